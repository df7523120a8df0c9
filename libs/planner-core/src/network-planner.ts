import {
  DEFAULT_OVERLAY_CONFIG,
  DEFAULT_PROXY_CONFIG,
  familyField,
  ipFamily,
  nodeState,
  type IpFamily,
  type Node,
  type ChainEntry,
  type ConntrackDeletion,
  type FdbEntry,
  type HostFacts,
  type JumpEntry,
  type KubeObject,
  type NeighbourEntry,
  type NodeState,
  type OverlayConfig,
  type ProxyConfig,
  type RouteEntry,
} from '@netledger/model';
import { KubeProxyPlanner } from './kube-proxy/kube-proxy-planner';
import type { NodeProxyPlan } from './kube-proxy/node-plan';
import { kubeProxyTables } from './kube-proxy/tables';
import { OverlayPlanner, routesDirectly, routesDirectly6, type OverlayPlan } from './overlay/overlay-planner';

/** Everything one node must have, composed from shared pieces (nothing per node is copied). */
export interface NodePlan {
  readonly node: string;
  /** kube-proxy's IPv4 proxier. */
  readonly kubeProxy: NodeProxyPlan;
  /** kube-proxy's IPv6 proxier, on a node that has IPv6 (see hasIpv6). */
  readonly kubeProxy6?: NodeProxyPlan | undefined;
  readonly overlay: OverlayPlan;
}

/**
 * Whether kube-proxy's IPv6 proxier runs for the node: it has an IPv6 address or pod CIDR.
 * kube-proxy runs it wherever the host has ip6tables; a node with no IPv6 at all could not use
 * its rules, so Netledger leaves ip6tables there alone (docs/kube-proxy-fidelity.md).
 */
export function hasIpv6(node: Node | undefined): boolean {
  return (
    node !== undefined &&
    (node.addresses.some((a) => ipFamily(a.address) === 'IPv6') ||
      node.podCIDRs.some((c) => ipFamily(c.split('/')[0]!) === 'IPv6'))
  );
}

/** What changed in the cluster model since the last takeChanges(). */
export interface ModelChanges {
  /** Service ports whose rules may have changed. */
  readonly ports: ReadonlySet<string>;
  /** Nodes whose overlay entries (as a peer or as themselves) or kube-proxy profile changed. */
  readonly nodes: ReadonlySet<string>;
  /** Everything may have changed (configuration, kube-proxy's large-cluster mode). */
  readonly all: boolean;
  /** UDP flows every node must forget. */
  readonly conntrack: readonly ConntrackDeletion[];
}

/**
 * The whole planner: kube-proxy's rules and flannel's overlay for every node, from the cluster's
 * Nodes, Services and EndpointSlices. Pure: no I/O.
 */
export class NetworkPlanner {
  /** kube-proxy's proxiers, one per IP family, as kube-proxy runs them. */
  readonly kubeProxy: KubeProxyPlanner;
  readonly kubeProxy6: KubeProxyPlanner;
  readonly overlay: OverlayPlanner;

  constructor(
    proxyConfig: ProxyConfig = DEFAULT_PROXY_CONFIG,
    overlayConfig: OverlayConfig = DEFAULT_OVERLAY_CONFIG,
  ) {
    this.kubeProxy = new KubeProxyPlanner(proxyConfig, 'IPv4');
    this.kubeProxy6 = new KubeProxyPlanner(proxyConfig, 'IPv6');
    this.overlay = new OverlayPlanner(overlayConfig);
  }

  upsert(object: KubeObject): void {
    this.kubeProxy.upsert(object);
    this.kubeProxy6.upsert(object);
    if (object.kind === 'Node') this.overlay.upsertNode(object);
  }

  remove(kind: KubeObject['kind'], namespace: string, name: string): void {
    this.kubeProxy.remove(kind, namespace, name);
    this.kubeProxy6.remove(kind, namespace, name);
    if (kind === 'Node') this.overlay.removeNode(name);
  }

  setProxyConfig(config: ProxyConfig): void {
    this.kubeProxy.setProxyConfig(config);
    this.kubeProxy6.setProxyConfig(config);
  }

  setHostFacts(node: string, facts: HostFacts | undefined): void {
    this.kubeProxy.setHostFacts(node, facts);
    this.kubeProxy6.setHostFacts(node, facts);
    this.overlay.setHostFacts(node, facts);
  }

  /** The node's IPv6 proxier plan, if it has IPv6. */
  planNode6(name: string): NodeProxyPlan | undefined {
    return hasIpv6(this.kubeProxy.getNode(name)) ? this.kubeProxy6.planNode(name) : undefined;
  }

  nodeNames(): readonly string[] {
    return this.kubeProxy.nodeNames();
  }

  planNode(name: string): NodePlan {
    return {
      node: name,
      kubeProxy: this.kubeProxy.planNode(name),
      kubeProxy6: this.planNode6(name),
      overlay: this.overlay.planNode(name),
    };
  }

  takeChanges(): ModelChanges {
    const k = this.kubeProxy.takeChanges();
    const k6 = this.kubeProxy6.takeChanges();
    const o = this.overlay.takeChanges();
    return {
      ports: k6.ports.size === 0 ? k.ports : new Set([...k.ports, ...k6.ports]),
      nodes: new Set([...k.nodes, ...k6.nodes, ...o.peers]),
      all: k.all || k6.all || o.all,
      conntrack: [...k.conntrack, ...k6.conntrack],
    };
  }
}

/** The overlay entries one node has for one peer (both families on a dual-stack overlay). */
export function peerEntriesOn(
  plan: OverlayPlan,
  peer: string,
): { routes: RouteEntry[]; neighbours: NeighbourEntry[]; fdb: FdbEntry[] } {
  const entries = plan.self && peer !== plan.node ? plan.peers.entries.get(peer) : undefined;
  if (!entries) return { routes: [], neighbours: [], fdb: [] };
  const v4 = routesDirectly(plan, entries.node)
    ? { routes: [entries.directRoute], neighbours: [], fdb: [] }
    : { routes: [entries.route], neighbours: [entries.neighbour], fdb: [entries.fdb] };
  const v6 = plan.device6 ? entries.ipv6 : undefined;
  if (!v6) return v4;
  if (routesDirectly6(plan, entries.node)) return { ...v4, routes: [...v4.routes, v6.directRoute] };
  return {
    routes: [...v4.routes, v6.route],
    neighbours: [...v4.neighbours, v6.neighbour],
    fdb: [...v4.fdb, v6.fdb],
  };
}

/** One proxier's chains and jumps (those of `family` tagged with it). */
function kubeProxyEntries(
  plan: NodeProxyPlan,
  family: IpFamily,
): { chains: ChainEntry[]; jumps: JumpEntry[] } {
  const tables = kubeProxyTables(plan);
  const tagged = familyField(family);
  const chains: ChainEntry[] = [];
  for (const table of [tables.filter, tables.nat])
    for (const c of table.chains)
      chains.push({ ...tagged, table: table.name, chain: c.name, rules: c.rules });
  const jumps = tables.jumps.map((j) => ({ ...tagged, ...j, position: 'prepend' as const }));
  return { chains, jumps };
}

/** The iptables state of one kube-proxy proxier alone (the differential test's view of one family). */
export function kubeProxyStateOf(plan: NodeProxyPlan, family: IpFamily = 'IPv4'): NodeState {
  return nodeState(kubeProxyEntries(plan, family));
}

/**
 * Lays a node plan out as keyed entries. Allocates the node's full state (for a snapshot, a
 * resync, the API): planners keep plans, not states.
 */
export function nodeStateOf(plan: NodePlan): NodeState {
  const v4 = kubeProxyEntries(plan.kubeProxy, 'IPv4');
  const v6 = plan.kubeProxy6 ? kubeProxyEntries(plan.kubeProxy6, 'IPv6') : { chains: [], jumps: [] };
  const chains: ChainEntry[] = [...v4.chains, ...v6.chains, ...plan.overlay.chains];
  const jumps: JumpEntry[] = [...v4.jumps, ...v6.jumps, ...plan.overlay.jumps];
  const routes: RouteEntry[] = [];
  const neighbours: NeighbourEntry[] = [];
  const fdb: FdbEntry[] = [];
  if (plan.overlay.self) {
    for (const peer of plan.overlay.peers.order) {
      const e = peerEntriesOn(plan.overlay, peer);
      routes.push(...e.routes);
      neighbours.push(...e.neighbours);
      fdb.push(...e.fdb);
    }
  }
  return nodeState({
    chains,
    jumps,
    devices: [plan.overlay.device, plan.overlay.device6].filter((d) => d !== undefined),
    routes,
    neighbours,
    fdb,
  });
}
