import { describe, expect, it } from 'vitest';
import { readExecutorSettings } from './executor-settings';

const keys = { PLAN_VERIFY_KEYS: '/etc/netledger/plan-keys' };

describe('executor settings', () => {
  it('reads the node, the backend and the optional API from the environment', () => {
    const s = readExecutorSettings({
      NODE_NAME: 'node-a',
      ...keys,
      DRY_RUN: 'true',
      NETLEDGER_API: 'http://127.0.0.1:8080',
      NETLEDGER_TOKEN: 't',
    });
    expect(s).toMatchObject({
      node: 'node-a',
      backend: 'recording',
      stateFile: '/var/lib/netledger/executor-node-a.json',
      api: { url: 'http://127.0.0.1:8080', token: 't', ca: undefined },
    });
    expect(readExecutorSettings({ NODE_NAME: 'node-a', ...keys }).api).toBeUndefined();
    expect(
      readExecutorSettings({
        NODE_NAME: 'node-a',
        ...keys,
        NETLEDGER_API: 'http://api:8080',
        NETLEDGER_TOKEN: '',
      }).api,
    ).toEqual({ url: 'http://api:8080', token: undefined, ca: undefined });
  });

  it('refuses a bad node name or API address with a message naming the variable', () => {
    expect(() => readExecutorSettings({ NODE_NAME: 'Node_A' })).toThrow(/NODE_NAME/);
    expect(() => readExecutorSettings({ NODE_NAME: 'node-a', NETLEDGER_API: 'ftp://x' })).toThrow(
      /NETLEDGER_API/,
    );
  });

  it('takes only signed changes unless told otherwise, explicitly', () => {
    expect(() => readExecutorSettings({ NODE_NAME: 'node-a' })).toThrow(/PLAN_VERIFY_KEYS/);
    expect(readExecutorSettings({ NODE_NAME: 'node-a', PLAN_VERIFY_KEYS: '/a.pem, /keys' }).planKeys).toEqual(
      ['/a.pem', '/keys'],
    );
    expect(readExecutorSettings({ NODE_NAME: 'node-a', PLAN_SIGNATURES: 'off' }).planKeys).toBeUndefined();
    expect(() => readExecutorSettings({ NODE_NAME: 'node-a', PLAN_SIGNATURES: 'no' })).toThrow(
      /PLAN_SIGNATURES/,
    );
  });
});
