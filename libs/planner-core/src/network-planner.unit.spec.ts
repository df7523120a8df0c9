import { describe, expect, it } from 'vitest';
import { familyOf, validateObject, type NodeState } from '@netledger/model';
import { NetworkPlanner, nodeStateOf } from './network-planner';

const webService = validateObject({
  kind: 'Service',
  metadata: { namespace: 'default', name: 'web' },
  spec: {
    clusterIP: '10.96.0.2',
    clusterIPs: ['10.96.0.2', 'fd00:10:96::2'],
    ipFamilies: ['IPv4', 'IPv6'],
    ports: [{ name: 'http', port: 80 }],
  },
});
const webSlice = (addressType: 'IPv4' | 'IPv6', address: string) =>
  validateObject({
    kind: 'EndpointSlice',
    metadata: {
      namespace: 'default',
      name: `web-${addressType.toLowerCase()}`,
      labels: { 'kubernetes.io/service-name': 'web' },
    },
    addressType,
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: [{ addresses: [address], nodeName: 'node-a', conditions: { ready: true } }],
  });
const node = (name: string, addresses: string[], podCIDRs: string[]) =>
  validateObject({
    kind: 'Node',
    metadata: { name },
    spec: { podCIDR: podCIDRs[0], podCIDRs },
    status: { addresses: addresses.map((address) => ({ type: 'InternalIP', address })) },
  });

const ipv6Chains = (state: NodeState) => [...state.chains.values()].filter((c) => familyOf(c) === 'IPv6');

describe('NetworkPlanner', () => {
  it("runs kube-proxy's IPv6 proxier on the nodes that have IPv6, its entries tagged for ip6tables", () => {
    const planner = new NetworkPlanner();
    planner.upsert(
      node('node-a', ['198.18.0.11', 'fd00:198:18::11'], ['10.244.1.0/24', 'fd00:10:244:1::/64']),
    );
    planner.upsert(node('node-b', ['198.18.0.12'], ['10.244.2.0/24']));
    for (const o of [webService, webSlice('IPv4', '10.244.1.5'), webSlice('IPv6', 'fd00:10:244:1::5')])
      planner.upsert(o);

    const dual = nodeStateOf(planner.planNode('node-a'));
    const natServices6 = dual.chains.get('ipv6/nat/KUBE-SERVICES')!;
    expect(natServices6.family).toBe('IPv6');
    expect(natServices6.rules.some((r) => /-d fd00:10:96::2(\/128)? /.test(r))).toBe(true);
    expect(dual.chains.get('ipv4/nat/KUBE-SERVICES')!.rules.some((r) => r.includes('fd00'))).toBe(false);
    expect([...dual.jumps.values()].some((j) => j.family === 'IPv6' && j.chain === 'PREROUTING')).toBe(true);

    // A node without IPv6 leaves ip6tables alone; given an IPv6 address, it takes the IPv6 rules.
    expect(ipv6Chains(nodeStateOf(planner.planNode('node-b')))).toEqual([]);
    planner.upsert(node('node-b', ['198.18.0.12', 'fd00:198:18::12'], ['10.244.2.0/24']));
    const changes = planner.takeChanges();
    expect(changes.nodes.has('node-b')).toBe(true);
    expect(ipv6Chains(nodeStateOf(planner.planNode('node-b'))).length).toBeGreaterThan(0);
  });
});
