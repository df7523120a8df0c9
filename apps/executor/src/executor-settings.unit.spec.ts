import { describe, expect, it } from 'vitest';
import { readExecutorSettings } from './executor-settings';

describe('executor settings', () => {
  it('reads the node, the backend and the optional API from the environment', () => {
    const s = readExecutorSettings({
      NODE_NAME: 'node-a',
      DRY_RUN: 'true',
      NETLEDGER_API: 'http://127.0.0.1:8080',
      NETLEDGER_TOKEN: 't',
    });
    expect(s).toMatchObject({
      node: 'node-a',
      backend: 'recording',
      stateFile: '/var/lib/netledger/executor-node-a.json',
      api: { url: 'http://127.0.0.1:8080', token: 't' },
    });
    expect(readExecutorSettings({ NODE_NAME: 'node-a' }).api).toBeUndefined();
    expect(
      readExecutorSettings({ NODE_NAME: 'node-a', NETLEDGER_API: 'http://api:8080', NETLEDGER_TOKEN: '' })
        .api,
    ).toEqual({ url: 'http://api:8080', token: undefined });
  });

  it('refuses a bad node name or API address with a message naming the variable', () => {
    expect(() => readExecutorSettings({ NODE_NAME: 'Node_A' })).toThrow(/NODE_NAME/);
    expect(() => readExecutorSettings({ NODE_NAME: 'node-a', NETLEDGER_API: 'ftp://x' })).toThrow(
      /NETLEDGER_API/,
    );
  });
});
