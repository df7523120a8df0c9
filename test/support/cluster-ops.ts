import fc from 'fast-check';
import {
  DEFAULT_OVERLAY_CONFIG,
  DEFAULT_PROXY_CONFIG,
  validateEndpointSlice,
  validateNode,
  validateService,
  type EndpointSlice,
  type HostFacts,
  type Node,
  type Service,
} from '@netledger/model';
import { NetworkPlanner } from '@netledger/planner-core';
import { rawNode, rawService, rawSlice } from './kube';

/*
 * Random sequences of cluster changes over a small cluster (nodes node-0..node-4, services
 * svc-0..svc-5 of every type and traffic policy, their slices), for property tests of the
 * planner's incremental paths against from-scratch plans.
 */

export type ClusterOp =
  | {
      kind: 'service';
      s: number;
      type: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
      local: boolean;
      itpLocal: boolean;
      /** A dual-stack Service (an IPv6 cluster IP besides the IPv4 one). */
      dual?: boolean;
    }
  | { kind: 'deleteService'; s: number }
  | {
      kind: 'slice';
      s: number;
      endpoints: { host: number; node: number; ready: boolean; terminating: boolean; hint: number }[];
      /** The service's IPv6 slice instead of its IPv4 one. */
      ipv6?: boolean;
    }
  | { kind: 'deleteSlice'; s: number; ipv6?: boolean }
  | { kind: 'node'; n: number; ipSuffix: number; zone: number; ipv6?: boolean }
  | { kind: 'deleteNode'; n: number };

export const NODES = 5;
export const SERVICES = 6;
/** A node's zone label ('' for none). */
const ZONES = ['', 'zone-a', 'zone-b'];
/** An endpoint's hints: none, for a zone, or for its own node. */
const HINTS = ['', 'zone-a', 'zone-b', 'own-node'] as const;

export const clusterOpArb: fc.Arbitrary<ClusterOp> = fc.oneof(
  fc.record({
    kind: fc.constant('service' as const),
    s: fc.nat(SERVICES - 1),
    type: fc.constantFrom('ClusterIP' as const, 'NodePort' as const, 'LoadBalancer' as const),
    local: fc.boolean(),
    itpLocal: fc.boolean(),
    dual: fc.boolean(),
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
        hint: fc.nat(HINTS.length - 1),
      }),
      {
        maxLength: 5,
      },
    ),
    ipv6: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('deleteSlice' as const), s: fc.nat(SERVICES - 1), ipv6: fc.boolean() }),
  fc.record({
    kind: fc.constant('node' as const),
    n: fc.nat(NODES - 1),
    ipSuffix: fc.nat(3),
    zone: fc.nat(ZONES.length - 1),
    ipv6: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('deleteNode' as const), n: fc.nat(NODES - 1) }),
);

function serviceOf(op: Extract<ClusterOp, { kind: 'service' }>): Service {
  const raw = rawService('ns', `svc-${op.s}`, {
    type: op.type,
    clusterIP: `10.96.0.${op.s + 1}`,
    ports: [{ name: 'http', port: 80, ...(op.type !== 'ClusterIP' ? { nodePort: 30000 + op.s } : {}) }],
    ...(op.type === 'LoadBalancer'
      ? { ingress: [`198.18.1.${op.s}`], loadBalancerSourceRanges: ['192.168.0.0/24'] }
      : {}),
    ...(op.local && op.type !== 'ClusterIP' ? { externalTrafficPolicy: 'Local' as const } : {}),
    ...(op.itpLocal ? { internalTrafficPolicy: 'Local' as const } : {}),
  });
  if (!op.dual) return validateService(raw);
  const spec = raw.spec as Record<string, unknown>;
  const clusterIPs = [spec.clusterIP, `fd00:10:96::${op.s + 1}`];
  return validateService({ ...raw, spec: { ...spec, clusterIPs, ipFamilies: ['IPv4', 'IPv6'] } });
}

function sliceOf(op: Extract<ClusterOp, { kind: 'slice' }>): EndpointSlice {
  const raw = rawSlice(
    'ns',
    sliceName(op.s, op.ipv6),
    `svc-${op.s}`,
    [{ name: 'http', port: 8080 }],
    op.endpoints.map((e) => ({
      ip: op.ipv6 ? `fd00:10:244:${e.node}::${e.host + 2}` : `10.244.${e.node}.${e.host + 2}`,
      node: `node-${e.node}`,
      ready: e.ready,
      terminating: e.terminating,
    })),
  );
  const endpoints = (raw.endpoints as Record<string, unknown>[]).map((ep, i) => {
    const hint = HINTS[op.endpoints[i]!.hint];
    if (hint === '') return ep;
    const hints =
      hint === 'own-node' ? { forNodes: [{ name: ep.nodeName }] } : { forZones: [{ name: hint }] };
    return { ...ep, hints };
  });
  return validateEndpointSlice({ ...raw, endpoints, ...(op.ipv6 ? { addressType: 'IPv6' } : {}) });
}

const sliceName = (s: number, ipv6: boolean | undefined) => `svc-${s}-${ipv6 ? 'v6' : 'abc'}`;

function nodeOf(op: Extract<ClusterOp, { kind: 'node' }>): Node {
  let raw = rawNode(`node-${op.n}`, `192.168.0.${10 + op.n + op.ipSuffix * 10}`, `10.244.${op.n}.0/24`);
  if (op.ipv6) {
    // Dual-stack: an IPv6 InternalIP and pod CIDR beside the IPv4 ones.
    const status = raw.status as { addresses: { type: string; address: string }[] };
    const addresses = [...status.addresses, { type: 'InternalIP', address: `fd00:192:168::${10 + op.n}` }];
    const podCIDRs = [`10.244.${op.n}.0/24`, `fd00:10:244:${op.n}::/64`];
    raw = { ...raw, spec: { podCIDR: podCIDRs[0], podCIDRs }, status: { ...status, addresses } };
  }
  const zone = ZONES[op.zone];
  if (!zone) return validateNode(raw);
  const metadata = raw.metadata as Record<string, unknown>;
  return validateNode({ ...raw, metadata: { ...metadata, labels: { 'topology.kubernetes.io/zone': zone } } });
}

export function applyClusterOp(planner: NetworkPlanner, op: ClusterOp): void {
  switch (op.kind) {
    case 'service':
      return planner.upsert(serviceOf(op));
    case 'deleteService':
      return planner.remove('Service', 'ns', `svc-${op.s}`);
    case 'slice':
      return planner.upsert(sliceOf(op));
    case 'deleteSlice':
      return planner.remove('EndpointSlice', 'ns', sliceName(op.s, op.ipv6));
    case 'node':
      return planner.upsert(nodeOf(op));
    case 'deleteNode':
      return planner.remove('Node', '', `node-${op.n}`);
  }
}

/**
 * The planner the property tests start from: the test pod network, DirectRouting or not, and
 * flannel's IPv6 overlay (a dual-stack net-conf) or not.
 */
export function testPlanner(directRouting: boolean, dualStackOverlay: boolean): NetworkPlanner {
  const ipv6Network = 'fd00:10:244::/56';
  return new NetworkPlanner(
    { ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16', ...(dualStackOverlay ? [ipv6Network] : [])] },
    { ...DEFAULT_OVERLAY_CONFIG, directRouting, ...(dualStackOverlay ? { ipv6Network } : {}) },
  );
}

/** The host facts every test node reports: its underlay address in 192.168.0.0/24. */
export function testHostFacts(name: string): HostFacts {
  return {
    interfaceAddresses: [
      '127.0.0.1/8',
      `192.168.0.${10 + Number(name.slice(5))}/24`,
      `fd00:192:168::${10 + Number(name.slice(5))}/64`,
    ],
    randomFully: true,
    nfacctCounters: [],
    conntrackTcpBeLiberal: false,
    underlayMtu: 1500,
  };
}
