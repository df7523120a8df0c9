import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPlannerSettings } from './planner-settings';

const base = { PLAN_SIGNATURES: 'off' };

describe('planner settings: the kube-proxy release', () => {
  it('writes v1.37 by default, an older release when KUBE_PROXY_VERSION asks, with or without a config file', () => {
    expect(readPlannerSettings(base).proxyConfig.release).toBe('v1.37');
    expect(readPlannerSettings({ ...base, KUBE_PROXY_VERSION: 'v1.34' }).proxyConfig.release).toBe('v1.34');
    const file = join(mkdtempSync(join(tmpdir(), 'netledger-planner-')), 'kube-proxy.yaml');
    writeFileSync(
      file,
      'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nnodePortAddresses: [localhost]\n',
    );
    expect(readPlannerSettings({ ...base, PROXY_CONFIG: file }).proxyConfig.nodePortAddresses).toEqual([
      'localhost',
    ]);
    // The keyword is v1.37's: asked for v1.36, the file is refused at start, naming why.
    expect(() => readPlannerSettings({ ...base, PROXY_CONFIG: file, KUBE_PROXY_VERSION: '1.36' })).toThrow(
      /new in v1.37/,
    );
    expect(() => readPlannerSettings({ ...base, KUBE_PROXY_VERSION: 'v2.0' })).toThrow(/expected one of/);
  });
});
