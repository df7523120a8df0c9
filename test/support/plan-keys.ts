import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A planner signing key of the test's own, as the services script makes one: the private key in a
 * file (PLAN_SIGNING_KEY_FILE) and its public key in a directory of keys (PLAN_VERIFY_KEYS).
 */
export function testPlanKeys(): { PLAN_SIGNING_KEY_FILE: string; PLAN_VERIFY_KEYS: string } {
  const dir = mkdtempSync(join(tmpdir(), 'nl-plan-keys-'));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signingKey = join(dir, 'plan-signing.key');
  writeFileSync(signingKey, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  mkdirSync(join(dir, 'plan-keys'));
  writeFileSync(join(dir, 'plan-keys', 'planner.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
  return { PLAN_SIGNING_KEY_FILE: signingKey, PLAN_VERIFY_KEYS: join(dir, 'plan-keys') };
}
