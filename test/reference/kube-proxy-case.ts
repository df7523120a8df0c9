import {
  DEFAULT_KUBE_PROXY_RELEASE,
  DEFAULT_OVERLAY_CONFIG,
  parseKubeProxyConfiguration,
  validateObject,
  type HostFacts,
  type KubeObject,
  type KubeProxyRelease,
  type NodeState,
  type ProxyConfig,
} from '@netledger/model';
import { NetworkPlanner, nodeStateOf } from '@netledger/planner-core';
import type { KubeProxyReference } from './kube-proxy-reference';
import { netledgerRules, referenceRules, type ChainRules } from './iptables-comparison';
import {
  randomCluster,
  type Family,
  type ProxySettings,
  type RandomCluster,
  type Stack,
} from './random-cluster';

type Raw = Record<string, unknown>;
const nameOf = (raw: Raw) => (raw.metadata as { name: string }).name;
const keyOf = (raw: Raw) => {
  const m = raw.metadata as { namespace?: string; name: string };
  return `${raw.kind as string}/${m.namespace ?? ''}/${m.name}`;
};
const addressesOf = (node: Raw) =>
  (node.status as { addresses: { address: string }[] }).addresses.map((a) => a.address);
const nodeIPOf = (node: Raw, family: Family) =>
  addressesOf(node).find((ip) => ip.includes(':') === (family === 'IPv6'));

/** A node's host as both sides see it: loopback and its underlay addresses. */
function interfacesOf(node: Raw) {
  return [
    { name: 'lo', addresses: ['127.0.0.1/8', '::1/128'] },
    { name: 'eth0', addresses: addressesOf(node).map((ip) => `${ip}/${ip.includes(':') ? 64 : 24}`) },
  ];
}

/** The planner's side under test: Netledger's whole planner, both families in one node state. */
interface Planner {
  upsert(object: KubeObject): void;
  remove(kind: KubeObject['kind'], namespace: string, name: string): void;
  setHostFacts(node: string, facts: HostFacts): void;
  stateOf(node: string): NodeState;
}

/** Netledger's whole planner: the family's rules are those of its state tagged with it (netledgerRules). */
function plannerFor(config: ProxyConfig): Planner {
  const planner = new NetworkPlanner(config, DEFAULT_OVERLAY_CONFIG);
  return Object.assign(planner, { stateOf: (node: string) => nodeStateOf(planner.planNode(node)) });
}

function proxyConfigOf(s: ProxySettings, release: KubeProxyRelease) {
  return parseKubeProxyConfiguration(
    {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clusterCIDR: s.clusterCIDRs.join(','),
      detectLocalMode: s.detectLocalMode,
      detectLocal: { bridgeInterface: s.bridgeInterface, interfaceNamePrefix: s.interfaceNamePrefix },
      conntrack: { tcpBeLiberal: s.tcpBeLiberal },
      nodePortAddresses: s.nodePortAddresses,
      iptables: {
        masqueradeBit: s.masqueradeBit,
        masqueradeAll: s.masqueradeAll,
        localhostNodePorts: s.localhostNodePorts,
      },
    },
    release,
  );
}

function load(planner: Planner, c: RandomCluster, previous?: RandomCluster): void {
  const now = [...c.nodes, ...c.services, ...c.endpointSlices];
  const kept = new Set(now.map(keyOf));
  for (const raw of previous ? [...previous.nodes, ...previous.services, ...previous.endpointSlices] : []) {
    if (kept.has(keyOf(raw))) continue;
    const m = raw.metadata as { namespace?: string; name: string };
    planner.remove(raw.kind as 'Service' | 'EndpointSlice' | 'Node', m.namespace ?? '', m.name);
  }
  for (const raw of now) planner.upsert(validateObject(raw));
  for (const node of c.nodes) {
    planner.setHostFacts(nameOf(node), {
      interfaceAddresses: interfacesOf(node).flatMap((i) => i.addresses),
      randomFully: c.settings.randomFully,
      nfacctCounters: c.settings.nfacct,
      conntrackTcpBeLiberal: c.settings.conntrackTCPLiberal,
      underlayMtu: 1500,
    });
  }
}

/**
 * Every node of a cluster planned by one Netledger planner (so nodes share what they can). With
 * `before`, the planner first plans every node of that other cluster, then takes this one as a
 * change: the incremental paths, not only a cold start, are held to kube-proxy's output.
 */
export function planWithNetledger(c: RandomCluster, before?: RandomCluster): Map<string, NodeState> {
  const planner = plannerFor(proxyConfigOf(c.settings, c.release));
  if (before) {
    load(planner, before);
    for (const node of before.nodes) planner.stateOf(nameOf(node));
  }
  load(planner, c, before);
  return new Map(c.nodes.map((node) => [nameOf(node), planner.stateOf(nameOf(node))]));
}

/** One node of the cluster as kube-proxy's proxier takes it (test/reference/kube-proxy/main.go). */
export function referenceInput(c: RandomCluster, node: Raw, family: Family) {
  return {
    family,
    nodeName: nameOf(node),
    nodeIP: nodeIPOf(node, family) ?? '',
    nodeLabels: (node.metadata as { labels: Record<string, string> }).labels,
    nodePodCIDRs: (node.spec as { podCIDRs: string[] }).podCIDRs,
    interfaces: interfacesOf(node),
    // kube-proxy sets the sysctl when its configuration asks, then reads it back.
    settings: {
      ...c.settings,
      conntrackTCPLiberal: c.settings.conntrackTCPLiberal || c.settings.tcpBeLiberal,
    },
    services: c.services,
    endpointSlices: c.endpointSlices,
  };
}

export interface NodeResult {
  node: string;
  family: Family;
  ours: { chains: ChainRules; jumps: ChainRules };
  theirs: { chains: ChainRules; jumps: ChainRules };
}

export interface CaseResult {
  seed: number;
  nodes: NodeResult[];
}

/**
 * Plans the cluster of `seed` on both sides for every node, each brought to the comparable form.
 * `incremental`: Netledger reaches it as a change from another random cluster.
 */
export async function runCase(
  reference: KubeProxyReference,
  seed: number,
  incremental = false,
  release: KubeProxyRelease = DEFAULT_KUBE_PROXY_RELEASE,
  stack: Stack = 'IPv4',
): Promise<CaseResult> {
  const cluster = randomCluster(seed, release, stack);
  const before = incremental ? randomCluster(seed + 1_000_003, release, stack) : undefined;
  const nodes: NodeResult[] = [];
  // kube-proxy runs one proxier per family; each is compared on its own, with the part of
  // Netledger's node state of that family.
  const ours = planWithNetledger(cluster, before);
  for (const family of stack === 'dual' ? (['IPv4', 'IPv6'] as const) : [stack]) {
    for (const node of cluster.nodes) {
      const answer = await reference.run(referenceInput(cluster, node, family));
      nodes.push({
        node: nameOf(node),
        family,
        theirs: referenceRules(answer.restore, answer.tables),
        ours: netledgerRules(ours.get(nameOf(node))!, family),
      });
    }
  }
  return { seed, nodes };
}

/** The "table/chain" keys where the two sides differ. */
export function differingKeys(result: NodeResult): string[] {
  const keys = new Set<string>();
  for (const part of ['chains', 'jumps'] as const) {
    const a = result.ours[part];
    const b = result.theirs[part];
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) keys.add(`${part}:${key}`);
    }
  }
  return [...keys];
}
