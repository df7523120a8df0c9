import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readApiSettings } from './api-settings';
import { parseTokens } from './api-tokens';

const READER = 'r3ader-0123456789abcdef';
const NODE = 'n0de-a-0123456789abcdef';

describe('API tokens', () => {
  it('reads readers, admins and node executors, from a file or the environment', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'nl-tokens-')), 'tokens');
    writeFileSync(
      file,
      `# the API's tokens\n${READER}:reader\n\nadm1n-0123456789abcdef:admin\n${NODE}:node:node-a\n`,
    );
    const tokens = readApiSettings({ API_TOKENS_FILE: file, API_TOKENS: 'ignored' }).tokens;
    expect([...tokens.values()]).toEqual([
      { role: 'reader' },
      { role: 'admin' },
      { role: 'node', node: 'node-a' },
    ]);
    expect(readApiSettings({ API_TOKENS: `${READER}:reader` }).tokens.get(READER)).toEqual({
      role: 'reader',
    });
  });

  it("refuses to start with deploy/'s placeholders, weak tokens or none, never saying the token", () => {
    const refusal = (text: string) => {
      try {
        parseTokens(text, 'API_TOKENS');
      } catch (error) {
        return (error as Error).message;
      }
      return 'accepted';
    };
    expect(refusal('CHANGE-ME-EXECUTOR-0123456789:reader')).toMatch(/entry 1: the token is a placeholder/);
    expect(refusal(`${READER}:reader,replace-me-0123456789abcdef:admin`)).toMatch(/entry 2: .*placeholder/);
    expect(refusal('short:reader')).toMatch(/at least 16 printable characters/);
    expect(refusal('abababababababababab:reader')).toMatch(/not repetitive/);
    expect(refusal(`${READER}:root`)).toMatch(/token:reader, token:admin or token:node/);
    expect(refusal(`${NODE}:node:Node_A`)).toMatch(/token:node:<node name>/);
    expect(refusal(`${READER}:reader,${READER}:admin`)).toMatch(/given twice/);
    for (const text of ['CHANGE-ME-EXECUTOR-0123456789:reader', `${READER}:root`])
      expect(refusal(text)).not.toContain(text.split(':')[0]);
    expect(() => readApiSettings({})).toThrow(/no tokens/);
  });
});
