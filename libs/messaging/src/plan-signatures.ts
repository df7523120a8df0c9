import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { NetledgerError } from '@netledger/model';

/*
 * The planner signs every plan message it publishes (Ed25519), so an executor programs its node
 * only from what the planner wrote: not from whoever else can write to the topic, the broker
 * included. The signature covers the headers a consumer acts on before reading the value
 * (revision, part, parts) and the value:
 *
 *   "netledger-plan-v1\n" revision "\n" part "\n" parts "\n" value
 *
 * Headers `signature-key` (the key's id) and `signature` (base64) carry it. Executors hold a set
 * of public keys, so a key is rotated without downtime: the new public key is added to every
 * executor, the planner switches to the new private key, the old public key is removed.
 */

export const SIGNATURE_KEY_HEADER = 'signature-key';
export const SIGNATURE_HEADER = 'signature';

/** A key's id: the first 64 bits of sha256 over its public key (SPKI, DER), in hex. */
export function keyId(key: KeyObject): string {
  const publicKey = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

function signedBytes(headers: Readonly<Record<string, string>>, value: Buffer): Buffer {
  const head = `netledger-plan-v1\n${headers.revision ?? ''}\n${headers.part ?? ''}\n${headers.parts ?? ''}\n`;
  return Buffer.concat([Buffer.from(head), value]);
}

const refused = (code: string, message: string): never => {
  throw new NetledgerError(code, `plan message: ${message}`);
};

function ed25519(key: KeyObject, file: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519')
    throw new Error(`${file}: an Ed25519 key is needed, not ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

/** Signs plan messages with the planner's private key (PEM, PKCS#8). */
export class PlanSigner {
  readonly keyId: string;

  private constructor(private readonly key: KeyObject) {
    this.keyId = keyId(key);
  }

  static fromFile(file: string): PlanSigner {
    return new PlanSigner(ed25519(createPrivateKey(readFileSync(file)), file));
  }

  static fromKey(key: KeyObject): PlanSigner {
    return new PlanSigner(ed25519(key, 'the signing key'));
  }

  /** The message's headers with its signature added. */
  sign<M extends { readonly value: string; readonly headers: Record<string, string> }>(
    message: M,
  ): M & { readonly headers: Record<string, string> } {
    const signature = sign(null, signedBytes(message.headers, Buffer.from(message.value)), this.key);
    return {
      ...message,
      headers: {
        ...message.headers,
        [SIGNATURE_KEY_HEADER]: this.keyId,
        [SIGNATURE_HEADER]: signature.toString('base64'),
      },
    };
  }
}

/** The messages signed by `signer`, or as they are when signatures are off. */
export function signPlanMessages<
  M extends { readonly value: string; readonly headers: Record<string, string> },
>(
  messages: readonly M[],
  signer: PlanSigner | undefined,
): (M & { readonly headers: Record<string, string> })[] {
  return signer ? messages.map((m) => signer.sign(m)) : [...messages];
}

type Headers = Readonly<Record<string, Buffer | string | (Buffer | string)[] | undefined>>;

const header = (headers: Headers | undefined, name: string): string | undefined => {
  const raw = headers?.[name];
  const one = Array.isArray(raw) ? raw[0] : raw;
  return one === undefined ? undefined : one.toString();
};

/**
 * Verifies plan messages against the planner's public keys: files (PEM, SPKI) or directories of
 * `*.pem` files, as a mounted Secret gives them. A key id it does not know makes it read its
 * files again (a rotated key appears without a restart) before it refuses the message.
 */
export class PlanVerifier {
  private keys = new Map<string, KeyObject>();

  private stamp: string | undefined;

  /** `changed` says whether the sources may hold other keys than when last read. */
  private constructor(
    private readonly readKeys: () => readonly KeyObject[],
    private readonly changed: () => string | undefined,
  ) {
    this.load();
    if (this.keys.size === 0) throw new Error('no public key to verify plan messages with');
  }

  static fromFiles(sources: readonly string[]): PlanVerifier {
    return new PlanVerifier(
      () => sources.flatMap(publicKeysIn),
      // Adding a file to a directory (or a Secret's update swapping its data) changes its mtime.
      () => sources.map((s) => statSync(s).mtimeMs).join(),
    );
  }

  static fromKeys(keys: readonly KeyObject[]): PlanVerifier {
    return new PlanVerifier(
      () => keys,
      () => undefined,
    );
  }

  /** The ids of the keys it accepts. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  /** Throws MESSAGE.UNSIGNED or MESSAGE.FORGED unless the planner signed this message as it is. */
  verify(headers: Headers | undefined, value: Buffer | null): void {
    const id = header(headers, SIGNATURE_KEY_HEADER);
    const signature = header(headers, SIGNATURE_HEADER);
    if (!id || !signature) return refused('MESSAGE.UNSIGNED', 'not signed');
    if (!/^[0-9a-f]{16}$/.test(id)) return refused('MESSAGE.FORGED', 'signed by a malformed key id');
    // An unknown key reads the keys again only when their files changed: forged messages cost
    // a stat, not a read of every key.
    if (!this.keys.has(id) && this.changed() !== this.stamp) this.load();
    const key = this.keys.get(id) ?? refused('MESSAGE.FORGED', `signed by an unknown key ${id}`);
    const named = {
      revision: header(headers, 'revision') ?? '',
      part: header(headers, 'part') ?? '',
      parts: header(headers, 'parts') ?? '',
    };
    const bytes = signedBytes(named, value ?? Buffer.alloc(0));
    if (!verify(null, bytes, key, Buffer.from(signature, 'base64')))
      refused('MESSAGE.FORGED', `its signature does not verify with key ${id}`);
  }

  private load(): void {
    const stamp = this.changed();
    this.keys = new Map(this.readKeys().map((k) => [keyId(k), k]));
    this.stamp = stamp;
  }
}

function publicKeysIn(source: string): KeyObject[] {
  const files = statSync(source).isDirectory()
    ? readdirSync(source)
        .filter((f) => f.endsWith('.pem'))
        .map((f) => join(source, f))
    : [source];
  return files.map((file) => ed25519(createPublicKey(readFileSync(file)), file));
}
