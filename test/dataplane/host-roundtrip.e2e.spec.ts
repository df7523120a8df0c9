import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PROXY_CONFIG, EMPTY_NODE_STATE, nodeState, type NodeState } from '@netledger/model';
import {
  canonicalRule,
  diffNodeStates,
  isNetledgerChain,
  NetworkPlanner,
  nodeStateOf,
  ownedIptables,
  parseBridgeFdb,
  parseIpNeighbours,
  parseIpRoutes,
  parseIptablesSave,
  parseVxlanDevice,
  renderDiffOverlay,
  renderDiffRestore,
} from '@netledger/planner-core';
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

  function apply(from: NodeState, to: NodeState): void {
    const diff = diffNodeStates(from, to);
    const restore = renderDiffRestore(diff);
    if (restore) ns.exec('iptables-restore', ['--noflush'], restore);
    const ops = renderDiffOverlay(from, diff);
    if (ops.ipBefore.length) ns.exec('ip', ['-batch', '-'], ops.ipBefore.join('\n') + '\n');
    if (ops.bridge.length) ns.exec('bridge', ['-batch', '-'], ops.bridge.join('\n') + '\n');
    if (ops.ipAfter.length) ns.exec('ip', ['-batch', '-'], ops.ipAfter.join('\n') + '\n');
  }

  function readHost(): NodeState {
    const owned = ownedIptables(parseIptablesSave(ns.exec('iptables-save', [])), isNetledgerChain);
    const dev = 'flannel.1';
    const hasDevice = ns.exec('ip', ['-json', 'link', 'show']).includes(`"${dev}"`);
    return nodeState({
      chains: owned.chains,
      jumps: owned.jumps.map((j) => ({ ...j, position: 'prepend' as const })),
      devices: hasDevice
        ? [
            parseVxlanDevice(
              JSON.parse(ns.exec('ip', ['-json', '-d', 'link', 'show', dev])),
              JSON.parse(ns.exec('ip', ['-json', 'addr', 'show', 'dev', dev])),
            )!,
          ]
        : [],
      routes: parseIpRoutes(JSON.parse(ns.exec('ip', ['-json', 'route', 'show']))).filter((r) =>
        r.dst.startsWith('10.244.'),
      ),
      neighbours: hasDevice
        ? parseIpNeighbours(JSON.parse(ns.exec('ip', ['-json', 'neigh', 'show', 'dev', dev])), dev)
        : [],
      fdb: hasDevice
        ? parseBridgeFdb(JSON.parse(ns.exec('bridge', ['-json', 'fdb', 'show', 'dev', dev])), dev)
        : [],
    });
  }

  /** The desired state as the host prints it back: canonical rules, jumps without their position. */
  function asPrinted(state: NodeState): NodeState {
    return nodeState({
      chains: [...state.chains.values()].map((c) => ({ ...c, rules: c.rules.map(canonicalRule) })),
      jumps: [...state.jumps.values()].map((j) => ({
        ...j,
        rule: canonicalRule(j.rule),
        position: 'prepend' as const,
      })),
      devices: state.devices.values(),
      routes: state.routes.values(),
      neighbours: state.neighbours.values(),
      fdb: state.fdb.values(),
    });
  }

  const sorted = (s: NodeState) => ({
    chains: Object.fromEntries([...s.chains].sort()),
    jumps: [...s.jumps.keys()].sort(),
    devices: [...s.devices.values()],
    routes: [...s.routes.values()].sort((a, b) => a.dst.localeCompare(b.dst)),
    neighbours: [...s.neighbours.keys()].sort(),
    fdb: [...s.fdb.keys()].sort(),
  });

  let applied: NodeState = EMPTY_NODE_STATE;

  it('a full state applies, and reads back equal to the desired state', () => {
    const desired = nodeStateOf(planner.planNode('node-a'));
    apply(applied, desired);
    applied = desired;
    expect(sorted(readHost())).toEqual(sorted(asPrinted(desired)));
  });

  it('a diff (endpoint removed, a service gone, a node gone) applies to exactly the new state', () => {
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
    apply(applied, desired);
    applied = desired;
    const host = readHost();
    expect(sorted(host)).toEqual(sorted(asPrinted(desired)));
    expect(host.routes.has('10.244.2.0/24')).toBe(false);
  });
});
