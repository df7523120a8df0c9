/**
 * Random clusters for the differential tests: Services, EndpointSlices and one node's settings as
 * the apiserver and kube-proxy's configuration would give them, drawn from a seed. Every case is
 * one kube-proxy could meet; where kube-proxy's own result depends on Go's map order (two
 * different non-terminating copies of one endpoint in two slices), the generator does not go.
 */
import { releaseMinor, type KubeProxyRelease } from '@netledger/model';
import { prng } from '../support/synthetic-cluster';

export type Random = () => number;

const int = (r: Random, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: Random, items: readonly T[]): T => items[Math.floor(r() * items.length)]!;
const chance = (r: Random, p: number) => r() < p;

export interface ProxySettings {
  detectLocalMode: 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';
  clusterCIDRs: string[];
  bridgeInterface: string;
  interfaceNamePrefix: string;
  /** conntrack.tcpBeLiberal in the configuration (conntrackTCPLiberal: the host's sysctl). */
  tcpBeLiberal: boolean;
  masqueradeBit: number;
  masqueradeAll: boolean;
  localhostNodePorts: boolean;
  nodePortAddresses: string[];
  conntrackTCPLiberal: boolean;
  nfacct: string[];
  /** The host's iptables has MASQUERADE --random-fully. */
  randomFully: boolean;
}

/** The IP families of a cluster: single-stack of either, or dual-stack. */
export type Stack = 'IPv4' | 'IPv6' | 'dual';
export type Family = 'IPv4' | 'IPv6';

export interface RandomCluster {
  seed: number;
  release: KubeProxyRelease;
  stack: Stack;
  nodes: Record<string, unknown>[];
  settings: ProxySettings;
  services: Record<string, unknown>[];
  endpointSlices: Record<string, unknown>[];
}

const ZONES = ['zone-a', 'zone-b', 'zone-c'];
const PROTOCOLS = ['TCP', 'TCP', 'TCP', 'UDP', 'SCTP'] as const;

interface PortDraft {
  name: string;
  protocol: string;
  port: number;
  targetPort: number;
}

function randomSettings(r: Random, release: KubeProxyRelease, stack: Stack): ProxySettings {
  const keywords = releaseMinor(release) >= 37;
  const v6 = stack !== 'IPv4';
  return {
    detectLocalMode: pick(r, [
      'ClusterCIDR',
      'ClusterCIDR',
      'ClusterCIDR',
      'NodeCIDR',
      'BridgeInterface',
      'InterfaceNamePrefix',
    ] as const),
    clusterCIDRs: chance(r, 0.85)
      ? [...(stack !== 'IPv6' ? ['10.244.0.0/16'] : []), ...(v6 ? ['fd00:10:244::/48'] : [])]
      : [],
    bridgeInterface: 'cni0',
    interfaceNamePrefix: 'veth',
    tcpBeLiberal: chance(r, 0.1),
    masqueradeBit: chance(r, 0.7) ? 14 : int(r, 0, 31),
    masqueradeAll: chance(r, 0.15),
    localhostNodePorts: chance(r, 0.8),
    nodePortAddresses: pick(r, [
      [],
      [],
      ['198.18.0.0/24'],
      ['127.0.0.0/8', '198.18.0.0/24'],
      ['primary'],
      ...(keywords ? [['primary', 'localhost'], ['localhost'], ['all']] : []),
      ...(v6 ? [['fd00:198:18::/64'], ['198.18.0.0/24', 'fd00:198:18::/64']] : []),
    ]),
    conntrackTCPLiberal: chance(r, 0.15),
    nfacct: chance(r, 0.3) ? ['ct_state_invalid_dropped_pkts', 'localhost_nps_accepted_pkts'] : [],
    randomFully: chance(r, 0.7),
  };
}

const V6 = {
  node: (i: number) => `fd00:198:18::${10 + i}`,
  podCIDR: (i: number) => `fd00:10:244:${i}::/64`,
};

export function randomCluster(
  seed: number,
  release: KubeProxyRelease = 'v1.37',
  stack: Stack = 'IPv4',
): RandomCluster {
  const r = prng(seed);
  const nodeCount = int(r, 1, 5);
  const nodeNames = Array.from({ length: nodeCount }, (_, i) => `node-${i}`);
  const zoneOf = nodeNames.map(() => (chance(r, 0.85) ? pick(r, ZONES) : null));
  const nodes = nodeNames.map((name, i) => ({
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'kubernetes.io/hostname': name,
        ...(zoneOf[i] ? { 'topology.kubernetes.io/zone': zoneOf[i] } : {}),
      },
    },
    spec: {
      podCIDR: stack === 'IPv6' ? V6.podCIDR(i) : `10.244.${i}.0/24`,
      podCIDRs: [
        ...(stack !== 'IPv6' ? [`10.244.${i}.0/24`] : []),
        ...(stack !== 'IPv4' ? [V6.podCIDR(i)] : []),
      ],
    },
    status: {
      addresses: [
        ...(stack !== 'IPv6' ? [{ type: 'InternalIP', address: `198.18.0.${10 + i}` }] : []),
        ...(stack !== 'IPv4' ? [{ type: 'InternalIP', address: V6.node(i) }] : []),
      ],
    },
  }));

  const services: Record<string, unknown>[] = [];
  const endpointSlices: Record<string, unknown>[] = [];
  const serviceCount = int(r, 0, 10);
  let nextNodePort = 30000 + int(r, 0, 100);
  for (let s = 0; s < serviceCount; s++) {
    const namespace = pick(r, ['default', 'kube-system', 'shop']);
    const name = `svc-${s}`;
    const type = pick(r, ['ClusterIP', 'ClusterIP', 'NodePort', 'LoadBalancer', 'LoadBalancer']);
    const headless = type === 'ClusterIP' && chance(r, 0.08);
    const portCount = int(r, 1, 3);
    const ports: PortDraft[] = [];
    for (let p = 0; p < portCount; p++) {
      ports.push({
        name: portCount === 1 && chance(r, 0.5) ? '' : `p${p}`,
        protocol: pick(r, PROTOCOLS),
        port: pick(r, [80, 443, 53, 8080, 9000 + p]) + (ports.some((x) => x.port === 80) ? p : 0),
        targetPort: pick(r, [8080, 8443, 53, 9090]),
      });
    }
    const external = type !== 'ClusterIP';
    const local = external && chance(r, 0.4);
    const families: Family[] =
      stack === 'dual'
        ? pick(r, [['IPv4'], ['IPv6'], ['IPv4', 'IPv6'], ['IPv6', 'IPv4']] as Family[][])
        : [stack];
    const subnet = int(r, 0, 3);
    const clusterIPs = families.map((f) =>
      f === 'IPv4' ? `10.96.${subnet}.${10 + s}` : `fd00:10:96::${subnet}:${10 + s}`,
    );
    const spec: Record<string, unknown> = {
      type,
      clusterIP: headless ? 'None' : clusterIPs[0],
      ipFamilies: families,
      ports: ports.map((p) => ({
        ...(p.name ? { name: p.name } : {}),
        protocol: p.protocol,
        port: p.port,
        targetPort: p.targetPort,
        ...(external ? { nodePort: nextNodePort++ } : {}),
      })),
      sessionAffinity: chance(r, 0.2) ? 'ClientIP' : 'None',
    };
    if (!headless) spec.clusterIPs = clusterIPs;
    // The apiserver defaults the timeout (10800 s) when it is not given.
    if (spec.sessionAffinity === 'ClientIP')
      spec.sessionAffinityConfig = {
        clientIP: { timeoutSeconds: chance(r, 0.5) ? int(r, 1, 86400) : 10800 },
      };
    if (chance(r, 0.15)) {
      // Leading zeros (kube-proxy reads them as decimal) and elements it leaves out.
      const octet = int(r, 1, 50);
      spec.externalIPs = [chance(r, 0.3) ? `192.168.099.0${octet}` : `192.168.99.${octet}`];
      if (chance(r, 0.2))
        spec.externalIPs = [...(spec.externalIPs as string[]), pick(r, ['not-an-ip', '192.168.99.300'])];
      if (stack !== 'IPv4')
        spec.externalIPs = [...(spec.externalIPs as string[]), `fd00:192:168:99::${octet}`];
    }
    if (external) spec.externalTrafficPolicy = local ? 'Local' : 'Cluster';
    if (local && type === 'LoadBalancer') spec.healthCheckNodePort = nextNodePort++;
    if (chance(r, 0.2)) spec.internalTrafficPolicy = 'Local';
    if (type === 'LoadBalancer' && chance(r, 0.3)) {
      spec.loadBalancerSourceRanges = pick(r, [
        ['203.0.113.0/25'],
        ['203.0.113.0/25', '198.18.0.0/24'],
        ['0.0.0.0/0'],
        ['1.2.3.4/33', '203.0.113.0/25'],
        ['203.000.113.000/25'],
        ...(stack !== 'IPv4'
          ? [
              ['fd00:203:0:113::/64'],
              ['fd00:203:0:113::/64', 'fd00:198:18::/64'],
              ['::/0'],
              ['203.0.113.0/25', 'fd00:198:18::/64'],
            ]
          : []),
      ]);
    }
    const status =
      type === 'LoadBalancer' && chance(r, 0.8)
        ? {
            loadBalancer: {
              ingress: [
                {
                  ip: `5.6.7.${int(r, 1, 200)}`,
                  ...(chance(r, 0.15) ? { ipMode: 'Proxy' } : chance(r, 0.3) ? { ipMode: 'VIP' } : {}),
                },
                ...(stack !== 'IPv4' ? [{ ip: `fd00:5:6:7::${int(r, 1, 200)}` }] : []),
              ],
            },
          }
        : undefined;
    services.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { namespace, name, uid: `uid-${seed}-${s}`, resourceVersion: '1' },
      spec,
      ...(status ? { status } : {}),
    });
    for (const family of stack === 'IPv4' ? (['IPv4'] as Family[]) : families)
      endpointSlices.push(...randomSlices(r, namespace, name, ports, nodeNames, zoneOf, release, family));
  }

  return {
    seed,
    release,
    stack,
    nodes,
    settings: randomSettings(r, release, stack),
    services,
    endpointSlices,
  };
}

interface EndpointDraft {
  addresses: string[];
  conditions: Record<string, boolean>;
  nodeName?: string;
  zone?: string;
  hints?: Record<string, { name: string }[]>;
}

function randomEndpoint(
  r: Random,
  nodeNames: string[],
  zoneOf: (string | null)[],
  family: Family,
): EndpointDraft {
  const node = chance(r, 0.9) ? int(r, 0, nodeNames.length - 1) : -1;
  const conditions: Record<string, boolean> = {};
  const state = pick(r, ['ready', 'ready', 'ready', 'ready', 'terminating', 'notReady', 'unset']);
  if (state === 'ready') conditions.ready = true;
  if (state === 'ready' && chance(r, 0.5)) conditions.serving = true;
  if (state === 'terminating') {
    conditions.ready = false;
    conditions.serving = chance(r, 0.7);
    conditions.terminating = true;
  }
  if (state === 'notReady') {
    conditions.ready = false;
    conditions.serving = false;
  }
  const last = int(r, 2, 40);
  const ep: EndpointDraft = {
    addresses: [
      family === 'IPv6'
        ? `fd00:10:244:${node < 0 ? 200 : node}::${last}`
        : `10.244.${node < 0 ? 200 : node}.${chance(r, 0.05) ? `0${last}` : last}`,
    ],
    conditions,
  };
  if (node >= 0) ep.nodeName = nodeNames[node]!;
  if (node >= 0 && zoneOf[node]) ep.zone = zoneOf[node]!;
  return ep;
}

function randomSlices(
  r: Random,
  namespace: string,
  service: string,
  ports: PortDraft[],
  nodeNames: string[],
  zoneOf: (string | null)[],
  release: KubeProxyRelease,
  family: Family = 'IPv4',
): Record<string, unknown>[] {
  // Before v1.36 the first copy of a duplicated endpoint stays, in Go's map order of the slices:
  // only identical copies are then a case with one answer.
  const copiesMayDiffer = releaseMinor(release) >= 36;
  const sliceCount = pick(r, [0, 1, 1, 1, 2, 3]);
  const hints = pick(r, ['none', 'none', 'zones', 'nodes', 'partial']);
  const slices: EndpointDraft[][] = [];
  const seen = new Map<string, EndpointDraft>();
  for (let i = 0; i < sliceCount; i++) {
    const endpoints: EndpointDraft[] = [];
    const count = int(r, 0, 6);
    for (let e = 0; e < count; e++) {
      const earlier = [...seen.values()];
      if (earlier.length > 0 && chance(r, 0.1)) {
        // A copy of an endpoint of an earlier slice: kube-proxy keeps the non-terminating one. Two
        // different copies both terminating or both not would leave the winner to Go's map order.
        const original = pick(r, earlier);
        if (copiesMayDiffer && original.conditions.terminating !== true) {
          endpoints.push({
            ...original,
            conditions: { ready: false, serving: chance(r, 0.5), terminating: true },
          });
        } else {
          endpoints.push({ ...original });
        }
        continue;
      }
      const ep = randomEndpoint(r, nodeNames, zoneOf, family);
      const key = family === 'IPv6' ? ep.addresses[0]! : ep.addresses[0]!.split('.').map(Number).join('.');
      if (seen.has(key)) continue;
      seen.set(key, ep);
      endpoints.push(ep);
    }
    slices.push(endpoints);
  }
  // Hints follow from each endpoint's own fields, so copies of one endpoint carry the same ones.
  for (const ep of slices.flat()) {
    const zone = { name: ep.zone ?? ZONES[0]! };
    const lastOctet = Number(ep.addresses[0]!.split(/[.:]/).pop());
    if (hints === 'zones' || (hints === 'partial' && lastOctet % 4 !== 0)) {
      ep.hints = { forZones: [zone] };
    } else if (hints === 'nodes') {
      ep.hints = { forZones: [zone], forNodes: [{ name: ep.nodeName ?? nodeNames[0]! }] };
    }
  }
  return slices.map((endpoints, i) => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      namespace,
      name: `${service}-${family === 'IPv6' ? 'v6-' : ''}${i}`,
      labels: { 'kubernetes.io/service-name': service },
      resourceVersion: '1',
    },
    addressType: family,
    ports: [
      ...ports.map((p) => ({ name: p.name, protocol: p.protocol, port: p.targetPort })),
      // Ports kube-proxy skips: no number, or no name field.
      ...(chance(r, 0.05) ? [{ name: 'unset', protocol: 'TCP', port: 0 }] : []),
      ...(chance(r, 0.05) ? [{ protocol: 'TCP', port: 9999 }] : []),
    ],
    endpoints: chance(r, 0.05) ? [...endpoints, { addresses: [], conditions: { ready: true } }] : endpoints,
  }));
}
