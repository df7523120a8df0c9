import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PlanSigner, PlanVerifier, SIGNATURE_HEADER, SIGNATURE_KEY_HEADER } from './plan-signatures';

const pair = () => generateKeyPairSync('ed25519');
const message = (value = '{"revision":3,"part":0,"parts":1}') => ({
  key: 'plan',
  value,
  headers: { revision: '3', part: '0', parts: '1' },
});
const codeOf = (f: () => void): string | undefined => {
  try {
    f();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
};

describe('plan message signatures', () => {
  const planner = pair();
  const signer = PlanSigner.fromKey(planner.privateKey);
  const verifier = PlanVerifier.fromKeys([planner.publicKey]);

  it('verifies what the planner signed, as it was signed', () => {
    const signed = signer.sign(message());
    expect(signed.headers[SIGNATURE_KEY_HEADER]).toBe(signer.keyId);
    expect(() => verifier.verify(signed.headers, Buffer.from(signed.value))).not.toThrow();
  });

  it('refuses an unsigned message, a changed value, a changed header and another key', () => {
    const signed = signer.sign(message());
    expect(codeOf(() => verifier.verify(message().headers, Buffer.from(message().value)))).toBe(
      'MESSAGE.UNSIGNED',
    );
    expect(codeOf(() => verifier.verify(signed.headers, Buffer.from(signed.value.replace('3', '4'))))).toBe(
      'MESSAGE.FORGED',
    );
    // The revision header decides what a consumer skips unread: it is signed too.
    expect(
      codeOf(() => verifier.verify({ ...signed.headers, revision: '9' }, Buffer.from(signed.value))),
    ).toBe('MESSAGE.FORGED');
    const other = PlanSigner.fromKey(pair().privateKey).sign(message());
    expect(codeOf(() => verifier.verify(other.headers, Buffer.from(other.value)))).toBe('MESSAGE.FORGED');
    // Another key's signature under the planner's key id.
    const swapped = { ...other.headers, [SIGNATURE_KEY_HEADER]: signer.keyId };
    expect(codeOf(() => verifier.verify(swapped, Buffer.from(other.value)))).toBe('MESSAGE.FORGED');
    expect(
      codeOf(() =>
        verifier.verify({ ...signed.headers, [SIGNATURE_HEADER]: 'AAAA' }, Buffer.from(signed.value)),
      ),
    ).toBe('MESSAGE.FORGED');
    // A key id that is not one (what a forger writes there ends up in logs).
    const odd = { ...signed.headers, [SIGNATURE_KEY_HEADER]: 'x\ny' };
    expect(() => verifier.verify(odd, Buffer.from(signed.value))).toThrow(/malformed key id$/);
  });

  it('rotates a key without a restart: a key added to the directory is read when it first signs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nl-keys-'));
    writeFileSync(join(dir, 'old.pem'), planner.publicKey.export({ type: 'spki', format: 'pem' }));
    const fromFiles = PlanVerifier.fromFiles([dir]);
    const next = pair();
    const signedByNext = PlanSigner.fromKey(next.privateKey).sign(message());
    expect(codeOf(() => fromFiles.verify(signedByNext.headers, Buffer.from(signedByNext.value)))).toBe(
      'MESSAGE.FORGED',
    );
    writeFileSync(join(dir, 'next.pem'), next.publicKey.export({ type: 'spki', format: 'pem' }));
    expect(() => fromFiles.verify(signedByNext.headers, Buffer.from(signedByNext.value))).not.toThrow();
    const signedByOld = signer.sign(message());
    expect(() => fromFiles.verify(signedByOld.headers, Buffer.from(signedByOld.value))).not.toThrow();
    expect(fromFiles.keyIds).toHaveLength(2);
  });

  it('takes Ed25519 keys only, and refuses to start without one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nl-keys-'));
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(dir, 'rsa.pem'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
    expect(() => PlanVerifier.fromFiles([dir])).toThrow(/Ed25519/);
    expect(() => PlanSigner.fromKey(rsa.privateKey)).toThrow(/Ed25519/);
    expect(() => PlanVerifier.fromFiles([mkdtempSync(join(tmpdir(), 'nl-keys-'))])).toThrow(/no public key/);
  });
});
