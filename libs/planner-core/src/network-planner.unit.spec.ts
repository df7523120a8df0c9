import { describe, expect, it } from 'vitest';
import { validateObject } from '@netledger/model';
import { NetworkPlanner } from './network-planner';

const dualStack = (name: string, ips: string[]) =>
  validateObject({
    kind: 'Service',
    metadata: { namespace: 'default', name },
    spec: { clusterIP: ips[0], clusterIPs: ips, ports: [{ port: 80 }] },
  });

describe('NetworkPlanner', () => {
  it('counts the IPv6 Services and slices node states do not carry yet, as they come and go', () => {
    const planner = new NetworkPlanner();
    planner.upsert(dualStack('v4', ['10.96.0.1']));
    expect(planner.ipv6ObjectsUnprogrammed()).toBe(0);
    planner.upsert(dualStack('dual', ['10.96.0.2', 'fd00:10:96::2']));
    planner.upsert(
      validateObject({
        kind: 'EndpointSlice',
        metadata: { namespace: 'default', name: 'dual-v6', labels: { 'kubernetes.io/service-name': 'dual' } },
        addressType: 'IPv6',
        endpoints: [{ addresses: ['fd00:10:244:1::5'] }],
      }),
    );
    expect(planner.ipv6ObjectsUnprogrammed()).toBe(2);
    // Back to single-stack, then gone.
    planner.upsert(dualStack('dual', ['10.96.0.2']));
    planner.remove('EndpointSlice', 'default', 'dual-v6');
    expect(planner.ipv6ObjectsUnprogrammed()).toBe(0);
  });
});
