import type { Endpoint, EndpointSlice, Node, Service } from '@netledger/model';

/** Sizes and mix of a synthetic cluster. */
export interface SyntheticClusterSpec {
  nodes: number;
  services: number;
  /** Average endpoints per service. */
  endpointsPerService: number;
  seed?: number;
  /**
   * Zones the nodes are spread over (topology.kubernetes.io/zone, round robin), every endpoint
   * hinted for its node's zone, as the EndpointSlice controller does for trafficDistribution
   * PreferSameZone. Absent: no zones, no hints.
   */
  zones?: number;
  /**
   * Dual-stack: every node an IPv6 address and pod CIDR too, every Service an IPv6 cluster IP,
   * and beside each IPv4 slice an IPv6 one with the same endpoints' IPv6 addresses.
   */
  dualStack?: boolean;
}

export interface SyntheticCluster {
  nodes: Node[];
  services: Service[];
  slices: EndpointSlice[];
}

/** mulberry32: a small deterministic PRNG, so every run plans the same cluster. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const nodeName = (i: number) => `node-${i}`;
const zoneName = (i: number) => `zone-${String.fromCharCode(97 + i)}`;
const podIp = (nodeIndex: number, host: number) => `10.${64 + (nodeIndex >> 8)}.${nodeIndex & 255}.${host}`;
const hex = (n: number) => n.toString(16);
/** The IPv6 twin of a pod or node address (fd00:10:<node hi>:<node lo>::<host>, canonical). */
const podIp6 = (nodeIndex: number, host: number) =>
  `fd00:10:${hex(64 + (nodeIndex >> 8))}:${hex(nodeIndex & 255)}::${hex(host)}`;

/**
 * A cluster shaped like the benchmark's: about 70% ClusterIP, 20% NodePort and 10% LoadBalancer
 * Services (5% of all with externalTrafficPolicy Local, a tenth of the LoadBalancers with source
 * ranges), one port each and a second on every tenth, endpoints spread over random nodes.
 * Objects are built already validated (as validate* would return them).
 */
export function syntheticCluster(spec: SyntheticClusterSpec): SyntheticCluster {
  const random = prng(spec.seed ?? 42);
  const nodes: Node[] = [];
  for (let i = 0; i < spec.nodes; i++) {
    nodes.push({
      kind: 'Node',
      name: nodeName(i),
      labels: spec.zones ? { 'topology.kubernetes.io/zone': zoneName(i % spec.zones) } : {},
      annotations: {},
      flannelPublicIp: null,
      flannelVtepMac: null,
      podCIDRs: [
        `10.${64 + (i >> 8)}.${i & 255}.0/24`,
        ...(spec.dualStack ? [`fd00:10:${hex(64 + (i >> 8))}:${hex(i & 255)}::/64`] : []),
      ],
      addresses: [
        { type: 'InternalIP', address: `192.168.${i >> 8}.${i & 255}` },
        ...(spec.dualStack ? [{ type: 'InternalIP' as const, address: `fd00:192:168::${hex(i)}` }] : []),
      ],
    });
  }
  const hostsUsed = new Uint8Array(spec.nodes);
  const services: Service[] = [];
  const slices: EndpointSlice[] = [];
  for (let s = 0; s < spec.services; s++) {
    const r = random();
    const type = r < 0.7 ? 'ClusterIP' : r < 0.9 ? 'NodePort' : 'LoadBalancer';
    const local = type !== 'ClusterIP' && random() < 0.05 / 0.3;
    const name = `svc-${s}`;
    const namespace = `ns-${s % 50}`;
    const twoPorts = s % 10 === 0;
    const ports = [
      {
        name: 'http',
        protocol: 'TCP' as const,
        port: 80,
        nodePort: type === 'ClusterIP' ? 0 : 30000 + (s % 2767),
      },
      ...(twoPorts ? [{ name: 'dns', protocol: 'UDP' as const, port: 53, nodePort: 0 }] : []),
    ];
    services.push({
      kind: 'Service',
      namespace,
      name,
      type,
      clusterIPs: [
        `172.${16 + (s >> 16)}.${(s >> 8) & 255}.${s & 255}`,
        ...(spec.dualStack ? [`fd00:172::${hex(s)}`] : []),
      ],
      ports,
      externalIPs: [],
      sessionAffinity: 'None',
      sessionAffinityTimeoutSeconds: 10800,
      externalTrafficPolicy: local ? 'Local' : 'Cluster',
      internalTrafficPolicy: 'Cluster',
      healthCheckNodePort: local && type === 'LoadBalancer' ? 32000 + (s % 700) : 0,
      loadBalancerSourceRanges: type === 'LoadBalancer' && s % 10 === 3 ? ['203.0.113.0/24'] : [],
      loadBalancerIngress:
        type === 'LoadBalancer' ? [{ ip: `198.18.${(s >> 8) & 255}.${s & 255}`, ipMode: 'VIP' }] : [],
    });
    const count = Math.max(1, Math.round(spec.endpointsPerService * (0.5 + random())));
    const endpoints: Endpoint[] = [];
    for (let e = 0; e < count; e++) {
      const n = Math.floor(random() * spec.nodes);
      hostsUsed[n] = (hostsUsed[n]! % 250) + 1;
      endpoints.push({
        addresses: [podIp(n, hostsUsed[n]! + 1)],
        ready: true,
        serving: true,
        terminating: false,
        nodeName: nodeName(n),
        zone: spec.zones ? zoneName(n % spec.zones) : null,
        hintsForZones: spec.zones ? [zoneName(n % spec.zones)] : [],
        hintsForNodes: [],
      });
    }
    slices.push({
      kind: 'EndpointSlice',
      namespace,
      name: `${name}-abcde`,
      serviceName: name,
      addressType: 'IPv4',
      ports: ports.map((p) => ({ name: p.name, port: p.port === 80 ? 8080 : 5353, protocol: p.protocol })),
      endpoints,
    });
    if (spec.dualStack) {
      slices.push({
        ...slices[slices.length - 1]!,
        name: `${name}-v6`,
        addressType: 'IPv6',
        endpoints: endpoints.map((ep) => {
          const [, hi, lo, host] = ep.addresses[0]!.split('.').map(Number);
          return { ...ep, addresses: [podIp6(((hi! - 64) << 8) | lo!, host!)] };
        }),
      });
    }
  }
  return { nodes, services, slices };
}
