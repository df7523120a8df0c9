import {
  fragmentDigest,
  NetledgerError,
  parseFragment,
  parseNodeManifest,
  parsePlanChange,
  type Digest,
  type FragmentBody,
  type FragmentKind,
  type NodeManifest,
  type PlanChange,
} from '@netledger/model';

/*
 * The plan topic carries each plan change once, for every executor: the change (tables, peers,
 * manifests, deletions), and the bodies of the fragments it carries. A large change (a cluster's
 * first) is cut into parts of at most PART_BYTES; part 0 holds the change without its whole
 * manifests, which are spread with the fragment bodies over the parts. Headers say the revision
 * and part, so a consumer can skip what it already has without reading the value.
 *
 *   {"revision":R,"part":i,"parts":n,"change":{...}|null,"manifests":[...],"fragments":[...]}
 */

export const PART_BYTES = 900 * 1024;
/** A change whose parts add up to more than this is refused (a consumer's memory is bounded). */
export const MAX_CHANGE_BYTES = 512 * 1024 * 1024;

/** A fragment as the planner encoded it: the JSON its digest was taken of. */
export interface FragmentJson {
  readonly digest: Digest;
  readonly kind: FragmentKind;
  readonly json: string;
}

/** A fragment body as a consumer gets it: validated, its digest checked. */
export interface ReceivedFragment {
  readonly digest: Digest;
  readonly kind: FragmentKind;
  readonly value: FragmentBody;
}

export interface PlanMessage {
  readonly key: string;
  readonly value: string;
  readonly headers: Record<string, string>;
}

/** Cuts a change and its fragment bodies into plan messages of about `partBytes` at most, in order. */
export function encodePlanChange(
  change: PlanChange,
  fragments: readonly FragmentJson[],
  partBytes = PART_BYTES,
): PlanMessage[] {
  const skeleton = { ...change, manifests: { ...change.manifests, set: [] } };
  const items: { list: 'manifests' | 'fragments'; json: string }[] = [
    ...change.manifests.set.map((m) => ({ list: 'manifests' as const, json: JSON.stringify(m) })),
    ...fragments.map((f) => ({
      list: 'fragments' as const,
      json: `{"digest":${JSON.stringify(f.digest)},"kind":${JSON.stringify(f.kind)},"body":${f.json}}`,
    })),
  ];
  const parts: { change: string; manifests: string[]; fragments: string[] }[] = [];
  let current = { change: JSON.stringify(skeleton), manifests: [] as string[], fragments: [] as string[] };
  let size = current.change.length;
  for (const item of items) {
    if (size + item.json.length > partBytes && size > 0) {
      parts.push(current);
      current = { change: 'null', manifests: [], fragments: [] };
      size = 0;
    }
    current[item.list].push(item.json);
    size += item.json.length + 1;
  }
  parts.push(current);
  return parts.map((p, i) => ({
    key: 'plan',
    value: `{"revision":${change.revision},"part":${i},"parts":${parts.length},"change":${p.change},"manifests":[${p.manifests.join(',')}],"fragments":[${p.fragments.join(',')}]}`,
    headers: { revision: String(change.revision), part: String(i), parts: String(parts.length) },
  }));
}

/** The revision a plan message's headers name, without reading its value (undefined: no header). */
export function planMessageRevision(headers: Record<string, unknown> | undefined): number | undefined {
  const raw = headers?.revision;
  if (raw === undefined) return undefined;
  const revision = Number(String(raw));
  return Number.isSafeInteger(revision) ? revision : undefined;
}

const invalid = (message: string): never => {
  throw new NetledgerError('MESSAGE.INVALID', `plan message: ${message}`);
};

/** A whole change with the bodies it carries. */
export interface ReceivedChange {
  readonly change: PlanChange;
  readonly fragments: ReadonlyMap<Digest, ReceivedFragment>;
}

/**
 * Puts a change back together from its parts, validating as it goes: every part's shape, each
 * manifest and fragment body against the model's schemas, and each body against its digest. A
 * consumer for one node (`only`) keeps only that node's manifest. Throws MESSAGE.INVALID on a bad
 * part; the parts held are then dropped, and so is anything out of order.
 */
export class PlanAssembler {
  private revision: number | undefined;
  private parts = 0;
  private next = 0;
  private bytes = 0;
  private change: unknown;
  private manifests: NodeManifest[] = [];
  private fragments = new Map<Digest, ReceivedFragment>();

  constructor(
    private readonly only?: string,
    private readonly maxChangeBytes = MAX_CHANGE_BYTES,
  ) {}

  /** Adds one message; returns the change once its last part is in. */
  add(value: Buffer | string | null): ReceivedChange | undefined {
    const text = value === null ? 'null' : value.toString();
    let message: {
      revision?: unknown;
      part?: unknown;
      parts?: unknown;
      change?: unknown;
      manifests?: unknown;
      fragments?: unknown;
    };
    try {
      message = JSON.parse(text) as typeof message;
    } catch {
      this.reset();
      return invalid('not JSON');
    }
    const { revision, part, parts } = message ?? {};
    if (
      !Number.isSafeInteger(revision) ||
      !Number.isSafeInteger(part) ||
      !Number.isSafeInteger(parts) ||
      (parts as number) < 1 ||
      !Array.isArray(message.manifests) ||
      !Array.isArray(message.fragments)
    ) {
      this.reset();
      return invalid('revision, part, parts, manifests or fragments missing');
    }
    if (part === 0) {
      this.reset();
      this.revision = revision as number;
      this.parts = parts as number;
      this.change = message.change;
    } else if (revision !== this.revision || part !== this.next || parts !== this.parts) {
      // A part of a change whose beginning this consumer did not see: nothing to put together.
      this.reset();
      return undefined;
    }
    this.next = (part as number) + 1;
    this.bytes += text.length;
    if (this.bytes > this.maxChangeBytes) {
      this.reset();
      return invalid(`change ${String(revision)} is larger than ${this.maxChangeBytes} bytes`);
    }
    try {
      for (const m of message.manifests) {
        const node = (m as { node?: unknown } | null)?.node;
        if (this.only !== undefined && node !== this.only) continue;
        this.manifests.push(parseNodeManifest(m));
      }
      for (const f of message.fragments as { digest?: unknown; kind?: unknown; body?: unknown }[]) {
        const kind = f?.kind as FragmentKind;
        const digest = f?.digest;
        // The digest is taken of the body as sent, before validation rebuilds it.
        if (typeof digest !== 'string' || fragmentDigest(kind, JSON.stringify(f.body)) !== digest)
          invalid(`fragment ${String(digest)} does not match its digest`);
        this.fragments.set(digest as string, {
          digest: digest as string,
          kind,
          value: parseFragment(kind, f.body),
        });
      }
    } catch (error) {
      this.reset();
      throw error;
    }
    if (this.next < this.parts) return undefined;
    const skeleton = this.change as { manifests?: Record<string, unknown> } | null;
    const change = parsePlanChange({
      ...skeleton,
      manifests: { ...skeleton?.manifests, set: this.manifests },
    });
    const received = { change, fragments: this.fragments };
    this.reset();
    return received;
  }

  private reset(): void {
    this.revision = undefined;
    this.parts = 0;
    this.next = 0;
    this.bytes = 0;
    this.change = undefined;
    this.manifests = [];
    this.fragments = new Map();
  }
}
