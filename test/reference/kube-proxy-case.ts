import {
  DEFAULT_KUBE_PROXY_RELEASE,
  DEFAULT_OVERLAY_CONFIG,
  type KubeProxyRelease,
  parseKubeProxyConfiguration,
  validateObject,
  type NodeState,
} from '@netledger/model';
import { NetworkPlanner, nodeStateOf } from '@netledger/planner-core';
import type { KubeProxyReference } from './kube-proxy-reference';
import { netledgerRules, referenceRules, type ChainRules } from './iptables-comparison';
import { randomCluster, type ProxySettings, type RandomCluster } from './random-cluster';

type Raw = Record<string, unknown>;
const nameOf = (raw: Raw) => (raw.metadata as { name: string }).name;
const keyOf = (raw: Raw) => {
  const m = raw.metadata as { namespace?: string; name: string };
  return `${raw.kind as string}/${m.namespace ?? ''}/${m.name}`;
};
const nodeIPOf = (node: Raw) => (node.status as { addresses: { address: string }[] }).addresses[0]!.address;

/** A node's host as both sides see it: loopback and its underlay address. */
function interfacesOf(node: Raw) {
  return [
    { name: 'lo', addresses: ['127.0.0.1/8'] },
    { name: 'eth0', addresses: [`${nodeIPOf(node)}/24`] },
  ];
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

function load(planner: NetworkPlanner, c: RandomCluster, previous?: RandomCluster): void {
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
  const planner = new NetworkPlanner(proxyConfigOf(c.settings, c.release), DEFAULT_OVERLAY_CONFIG);
  if (before) {
    load(planner, before);
    for (const node of before.nodes) planner.planNode(nameOf(node));
  }
  load(planner, c, before);
  return new Map(c.nodes.map((node) => [nameOf(node), nodeStateOf(planner.planNode(nameOf(node)))]));
}

/** One node of the cluster as kube-proxy's proxier takes it (test/reference/kube-proxy/main.go). */
export function referenceInput(c: RandomCluster, node: Raw) {
  return {
    family: 'IPv4',
    nodeName: nameOf(node),
    nodeIP: nodeIPOf(node),
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
): Promise<CaseResult> {
  const cluster = randomCluster(seed, release);
  const ours = planWithNetledger(cluster, incremental ? randomCluster(seed + 1_000_003, release) : undefined);
  const nodes: NodeResult[] = [];
  for (const node of cluster.nodes) {
    const answer = await reference.run(referenceInput(cluster, node));
    nodes.push({
      node: nameOf(node),
      theirs: referenceRules(answer.restore, answer.tables),
      ours: netledgerRules(ours.get(nameOf(node))!),
    });
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
