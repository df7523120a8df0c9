import {
  DEFAULT_OVERLAY_CONFIG,
  DEFAULT_PROXY_CONFIG,
  nodeState,
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
import { OverlayPlanner, routesDirectly, type OverlayPlan } from './overlay/overlay-planner';

/** Everything one node must have, composed from shared pieces (nothing per node is copied). */
export interface NodePlan {
  readonly node: string;
  readonly kubeProxy: NodeProxyPlan;
  readonly overlay: OverlayPlan;
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
  readonly kubeProxy: KubeProxyPlanner;
  readonly overlay: OverlayPlanner;
  /**
   * Services with an IPv6 cluster IP and IPv6 EndpointSlices, by "kind/namespace/name": kube-proxy's
   * IPv6 proxier would program them; node states carry IPv4 only so far, so they are counted and
   * said (the planner's netledger_planner_ipv6_objects_unprogrammed), never silently dropped.
   */
  private readonly ipv6Objects = new Set<string>();

  constructor(
    proxyConfig: ProxyConfig = DEFAULT_PROXY_CONFIG,
    overlayConfig: OverlayConfig = DEFAULT_OVERLAY_CONFIG,
  ) {
    this.kubeProxy = new KubeProxyPlanner(proxyConfig);
    this.overlay = new OverlayPlanner(overlayConfig);
  }

  upsert(object: KubeObject): void {
    this.kubeProxy.upsert(object);
    if (object.kind === 'Node') this.overlay.upsertNode(object);
    const key = `${object.kind}/${object.kind === 'Node' ? '' : object.namespace}/${object.name}`;
    const ipv6 =
      (object.kind === 'Service' && object.clusterIPs.some((ip) => ip.includes(':'))) ||
      (object.kind === 'EndpointSlice' && object.addressType === 'IPv6');
    if (ipv6) this.ipv6Objects.add(key);
    else this.ipv6Objects.delete(key);
  }

  remove(kind: KubeObject['kind'], namespace: string, name: string): void {
    this.kubeProxy.remove(kind, namespace, name);
    if (kind === 'Node') this.overlay.removeNode(name);
    this.ipv6Objects.delete(`${kind}/${kind === 'Node' ? '' : namespace}/${name}`);
  }

  /** How many IPv6 Services and EndpointSlices node states do not carry yet (see ipv6Objects). */
  ipv6ObjectsUnprogrammed(): number {
    return this.ipv6Objects.size;
  }

  setHostFacts(node: string, facts: HostFacts | undefined): void {
    this.kubeProxy.setHostFacts(node, facts);
    this.overlay.setHostFacts(node, facts);
  }

  nodeNames(): readonly string[] {
    return this.kubeProxy.nodeNames();
  }

  planNode(name: string): NodePlan {
    return { node: name, kubeProxy: this.kubeProxy.planNode(name), overlay: this.overlay.planNode(name) };
  }

  takeChanges(): ModelChanges {
    const k = this.kubeProxy.takeChanges();
    const o = this.overlay.takeChanges();
    return {
      ports: k.ports,
      nodes: new Set([...k.nodes, ...o.peers]),
      all: k.all || o.all,
      conntrack: k.conntrack,
    };
  }
}

/** The overlay entries one node has for one peer. */
export function peerEntriesOn(
  plan: OverlayPlan,
  peer: string,
): { routes: RouteEntry[]; neighbours: NeighbourEntry[]; fdb: FdbEntry[] } {
  const entries = plan.self && peer !== plan.node ? plan.peers.entries.get(peer) : undefined;
  if (!entries) return { routes: [], neighbours: [], fdb: [] };
  if (routesDirectly(plan, entries.node)) return { routes: [entries.directRoute], neighbours: [], fdb: [] };
  return { routes: [entries.route], neighbours: [entries.neighbour], fdb: [entries.fdb] };
}

/**
 * The iptables half of a node state from a kube-proxy plan alone: what the CLI shows of a family
 * the node state does not carry yet (IPv6; see docs/kube-proxy-fidelity.md).
 */
export function kubeProxyStateOf(plan: NodeProxyPlan): NodeState {
  const tables = kubeProxyTables(plan);
  return nodeState({
    chains: [tables.filter, tables.nat].flatMap((table) =>
      table.chains.map((c) => ({ table: table.name, chain: c.name, rules: c.rules })),
    ),
    jumps: tables.jumps.map((j) => ({ ...j, position: 'prepend' as const })),
    devices: [],
    routes: [],
    neighbours: [],
    fdb: [],
  });
}

/**
 * Lays a node plan out as keyed entries. Allocates the node's full state (for a snapshot, a
 * resync, the API): planners keep plans, not states.
 */
export function nodeStateOf(plan: NodePlan): NodeState {
  const tables = kubeProxyTables(plan.kubeProxy);
  const chains: ChainEntry[] = [];
  for (const table of [tables.filter, tables.nat])
    for (const c of table.chains) chains.push({ table: table.name, chain: c.name, rules: c.rules });
  chains.push(...plan.overlay.chains);
  const jumps: JumpEntry[] = [
    ...tables.jumps.map((j) => ({ ...j, position: 'prepend' as const })),
    ...plan.overlay.jumps,
  ];
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
    devices: plan.overlay.device ? [plan.overlay.device] : [],
    routes,
    neighbours,
    fdb,
  });
}
