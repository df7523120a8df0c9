import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PROXY_CONFIG, EMPTY_NODE_STATE, type NodeState } from '@netledger/model';
import { diffNodeStates, NetworkPlanner, nodeStateOf, ownsChain } from '@netledger/planner-core';
import { asHostPrints, LinuxHost } from '@netledger/dataplane';
import { canUseNetns, TestNamespace } from '../support/netns';
import { node, service, slice } from '../support/kube';

/*
 * What planner-core renders is accepted by the real tools, and what they print back parses to the
 * same model: iptables-restore/iptables-save, ip -batch / ip -json, bridge -batch / bridge -json,
 * inside a network namespace this test makes and removes.
 */
describe.skipIf(!canUseNetns)('rendered state on a real host (network namespace)', () => {
  let ns: TestNamespace;
  const planner = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] });

  beforeAll(() => {
    ns = new TestNamespace('rt');
    host = new LinuxHost({
      netns: ns.name,
      device: () => 'flannel.1',
      ownsRoute: (r) => r.dst.startsWith('10.244.'),
      ownsChain: (c, family) => ownsChain(applied, c, family),
    });
    ns.exec('ip', ['link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1']);
    ns.exec('ip', ['addr', 'add', '198.18.0.11/24', 'dev', 'u0']);
    ns.exec('ip', ['link', 'set', 'u0', 'up']);
    ns.exec('ip', ['link', 'set', 'u1', 'up']);
    planner.upsert(node('node-a', '198.18.0.11', '10.244.1.0/24'));
    planner.upsert(node('node-b', '198.18.0.12', '10.244.2.0/24'));
    planner.upsert(node('node-c', '198.18.0.13', '10.244.3.0/24'));
    planner.upsert(
      service('default', 'web', {
        type: 'LoadBalancer',
        clusterIP: '10.96.0.10',
        ports: [{ name: 'http', port: 80, nodePort: 30080 }],
        ingress: ['198.18.0.200'],
        loadBalancerSourceRanges: ['198.18.0.0/24'],
        sessionAffinity: 'ClientIP',
      }),
    );
    planner.upsert(
      slice(
        'default',
        'web-1',
        'web',
        [{ name: 'http', port: 8080 }],
        [
          { ip: '10.244.1.5', node: 'node-a' },
          { ip: '10.244.2.5', node: 'node-b' },
          { ip: '10.244.3.5', node: 'node-c' },
        ],
      ),
    );
    planner.upsert(
      service('kube-system', 'dns', {
        clusterIP: '10.96.0.53',
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53 },
        ],
        internalTrafficPolicy: 'Local',
      }),
    );
    planner.upsert(
      slice(
        'kube-system',
        'dns-1',
        'dns',
        [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53 },
        ],
        [{ ip: '10.244.1.3', node: 'node-a' }],
      ),
    );
    planner.upsert(
      service('default', 'empty', {
        type: 'NodePort',
        clusterIP: '10.96.0.11',
        ports: [{ name: 'http', port: 80, nodePort: 30081 }],
        externalTrafficPolicy: 'Local',
      }),
    );
  });
  afterAll(() => ns?.remove());

  let host: LinuxHost;
  // The library's own host: the test checks what LinuxHost writes and reads back.
  const apply = async (from: NodeState, to: NodeState) => {
    await host.apply(diffNodeStates(from, to), from);
  };
  const readHost = () => host.read();

  const sorted = (s: NodeState) => ({
    chains: Object.fromEntries([...s.chains].sort()),
    jumps: [...s.jumps.keys()].sort(),
    devices: [...s.devices.values()],
    routes: [...s.routes.values()].sort((a, b) => a.dst.localeCompare(b.dst)),
    neighbours: [...s.neighbours.keys()].sort(),
    fdb: [...s.fdb.keys()].sort(),
  });

  let applied: NodeState = EMPTY_NODE_STATE;

  it('a full state applies, and reads back equal to the desired state', async () => {
    const desired = nodeStateOf(planner.planNode('node-a'));
    await apply(applied, desired);
    applied = desired;
    expect(sorted(await readHost())).toEqual(sorted(asHostPrints(desired)));
  });

  it('a diff (endpoint removed, a service gone, a node gone) applies to exactly the new state', async () => {
    planner.upsert(
      slice(
        'default',
        'web-1',
        'web',
        [{ name: 'http', port: 8080 }],
        [
          { ip: '10.244.1.5', node: 'node-a' },
          { ip: '10.244.3.5', node: 'node-c' },
        ],
      ),
    );
    planner.remove('Service', 'default', 'empty');
    planner.remove('Node', '', 'node-b');
    const desired = nodeStateOf(planner.planNode('node-a'));
    await apply(applied, desired);
    applied = desired;
    const actual = await readHost();
    expect(sorted(actual)).toEqual(sorted(asHostPrints(desired)));
    expect(actual.routes.has('10.244.2.0/24')).toBe(false);
  });
});
