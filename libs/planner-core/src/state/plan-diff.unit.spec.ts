import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_OVERLAY_CONFIG,
  DEFAULT_PROXY_CONFIG,
  type EndpointSlice,
  type Service,
} from '@netledger/model';
import { NetworkPlanner, nodeStateOf, type NodePlan } from '../network-planner';
import { applyNodeDiff, nodeStatesEqual } from './diff';
import { diffNodePlans } from './plan-diff';
import { node, service, slice } from '../../../../test/support/kube';

type Op =
  | {
      kind: 'service';
      s: number;
      type: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
      local: boolean;
      itpLocal: boolean;
    }
  | { kind: 'deleteService'; s: number }
  | {
      kind: 'slice';
      s: number;
      endpoints: { host: number; node: number; ready: boolean; terminating: boolean }[];
    }
  | { kind: 'deleteSlice'; s: number }
  | { kind: 'node'; n: number; ipSuffix: number }
  | { kind: 'deleteNode'; n: number };

const NODES = 5;
const SERVICES = 6;

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('service' as const),
    s: fc.nat(SERVICES - 1),
    type: fc.constantFrom('ClusterIP' as const, 'NodePort' as const, 'LoadBalancer' as const),
    local: fc.boolean(),
    itpLocal: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('deleteService' as const), s: fc.nat(SERVICES - 1) }),
  fc.record({
    kind: fc.constant('slice' as const),
    s: fc.nat(SERVICES - 1),
    endpoints: fc.array(
      fc.record({
        host: fc.nat(20),
        node: fc.nat(NODES - 1),
        ready: fc.boolean(),
        terminating: fc.boolean(),
      }),
      {
        maxLength: 5,
      },
    ),
  }),
  fc.record({ kind: fc.constant('deleteSlice' as const), s: fc.nat(SERVICES - 1) }),
  fc.record({ kind: fc.constant('node' as const), n: fc.nat(NODES - 1), ipSuffix: fc.nat(3) }),
  fc.record({ kind: fc.constant('deleteNode' as const), n: fc.nat(NODES - 1) }),
);

function serviceOf(op: Extract<Op, { kind: 'service' }>): Service {
  return service('ns', `svc-${op.s}`, {
    type: op.type,
    clusterIP: `10.96.0.${op.s + 1}`,
    ports: [{ name: 'http', port: 80, ...(op.type !== 'ClusterIP' ? { nodePort: 30000 + op.s } : {}) }],
    ...(op.type === 'LoadBalancer'
      ? { ingress: [`198.18.1.${op.s}`], loadBalancerSourceRanges: ['192.168.0.0/24'] }
      : {}),
    ...(op.local && op.type !== 'ClusterIP' ? { externalTrafficPolicy: 'Local' as const } : {}),
    ...(op.itpLocal ? { internalTrafficPolicy: 'Local' as const } : {}),
  });
}

function sliceOf(op: Extract<Op, { kind: 'slice' }>): EndpointSlice {
  return slice(
    'ns',
    `svc-${op.s}-abc`,
    `svc-${op.s}`,
    [{ name: 'http', port: 8080 }],
    op.endpoints.map((e) => ({
      ip: `10.244.${e.node}.${e.host + 2}`,
      node: `node-${e.node}`,
      ready: e.ready,
      terminating: e.terminating,
    })),
  );
}

function apply(planner: NetworkPlanner, op: Op): void {
  switch (op.kind) {
    case 'service':
      return planner.upsert(serviceOf(op));
    case 'deleteService':
      return planner.remove('Service', 'ns', `svc-${op.s}`);
    case 'slice':
      return planner.upsert(sliceOf(op));
    case 'deleteSlice':
      return planner.remove('EndpointSlice', 'ns', `svc-${op.s}-abc`);
    case 'node':
      return planner.upsert(
        node(`node-${op.n}`, `192.168.0.${10 + op.n + op.ipSuffix * 10}`, `10.244.${op.n}.0/24`),
      );
    case 'deleteNode':
      return planner.remove('Node', '', `node-${op.n}`);
  }
}

describe('diffNodePlans', () => {
  it('applied to the old state gives the new state, after every step of random change sequences (1,000 cases)', () => {
    let incremental = 0;
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 1, maxLength: 12 }), fc.boolean(), (ops, directRouting) => {
        const planner = new NetworkPlanner(
          { ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] },
          { ...DEFAULT_OVERLAY_CONFIG, directRouting },
        );
        const names = Array.from({ length: NODES }, (_, n) => `node-${n}`);
        for (const name of names)
          planner.setHostFacts(name, {
            interfaceAddresses: ['127.0.0.1/8', `192.168.0.${10 + Number(name.slice(5))}/24`],
            randomFully: true,
            nfacctCounters: [],
            conntrackTcpBeLiberal: false,
            underlayMtu: 1500,
          });
        let plans = new Map<string, NodePlan>(names.map((n) => [n, planner.planNode(n)]));
        planner.takeChanges();
        for (const batch of [ops.slice(0, ops.length >> 1), ops.slice(ops.length >> 1)]) {
          for (const op of batch) apply(planner, op);
          const changes = planner.takeChanges();
          const next = new Map<string, NodePlan>();
          for (const name of names) {
            const from = plans.get(name)!;
            const to = planner.planNode(name);
            const diff = diffNodePlans(from, to, changes);
            if (diff.chains.some((c) => c.op === 'edit' && c.chain === 'KUBE-SERVICES')) incremental++;
            expect(nodeStatesEqual(applyNodeDiff(nodeStateOf(from), diff), nodeStateOf(to))).toBe(true);
            next.set(name, to);
          }
          plans = next;
        }
      }),
      { numRuns: 1000 },
    );
    // Most diffs above took the incremental path (rule edits at computed positions).
    expect(incremental).toBeGreaterThan(1000);
  });
});
