import type { EndpointInfo } from './endpoints';
import { usesClusterEndpoints, usesLocalEndpoints, type ServicePortInfo } from './service-port';

/** The endpoints one node uses for one service port (kube-proxy's CategorizeEndpoints). */
export interface CategorizedEndpoints {
  /** Endpoints for Cluster traffic policy. */
  readonly cluster: readonly EndpointInfo[];
  /** Endpoints for Local traffic policy: this node's own. */
  readonly local: readonly EndpointInfo[];
  /** Every endpoint this node may route to: the KUBE-SEP- chains it needs. */
  readonly allReachable: readonly EndpointInfo[];
  /** True when the service has usable endpoints anywhere in the cluster. */
  readonly hasAny: boolean;
}

const EMPTY: readonly EndpointInfo[] = [];

/**
 * Cluster endpoints are the ready ones, or, when none is ready, the serving terminating ones
 * (a best effort not to drop connections). They do not depend on the node, so they are computed
 * once per service port and passed in.
 */
export function clusterEndpointsOf(endpoints: readonly EndpointInfo[]): readonly EndpointInfo[] {
  const ready = endpoints.filter((ep) => ep.ready);
  if (ready.length > 0) return ready.length === endpoints.length ? endpoints : ready;
  const terminating = endpoints.filter((ep) => ep.serving && ep.terminating);
  return terminating.length > 0 ? terminating : EMPTY;
}

/**
 * Local endpoints of `nodeName`: its ready ones, or, when it has none ready, its serving
 * terminating ones. Returns the list and whether the terminating fallback was taken.
 */
export function localEndpointsOf(
  endpoints: readonly EndpointInfo[],
  nodeName: string,
): { local: readonly EndpointInfo[]; terminatingFallback: boolean } {
  const mine = endpoints.filter((ep) => ep.nodeName === nodeName);
  const ready = mine.filter((ep) => ep.ready);
  if (ready.length > 0) return { local: ready, terminatingFallback: false };
  const terminating = mine.filter((ep) => ep.serving && ep.terminating);
  return { local: terminating.length > 0 ? terminating : EMPTY, terminatingFallback: terminating.length > 0 };
}

/** True when any endpoint is ready, or serving while terminating. */
export function hasUsableEndpoint(endpoints: readonly EndpointInfo[]): boolean {
  return endpoints.some((ep) => ep.ready || (ep.serving && ep.terminating));
}

/** How topology hints narrow a node's cluster endpoints (kube-proxy's topologyMode). */
export type TopologyMode = '' | 'PreferSameNode' | 'PreferSameZone';

/** Where a node stands for topology: its name and its topology.kubernetes.io/zone label. */
export interface NodeTopology {
  readonly nodeName: string;
  readonly zone: string;
}

/**
 * kube-proxy's topologyModeFromHints: same-node when every ready endpoint has node hints and one
 * names this node; else same-zone when every ready endpoint has zone hints and one names this
 * node's zone; else none (every ready endpoint).
 */
export function topologyModeOf(endpoints: readonly EndpointInfo[], at: NodeTopology): TopologyMode {
  let hasReady = false;
  let allNodeHints = true;
  let forNode = false;
  let allZoneHints = true;
  let forZone = false;
  for (const ep of endpoints) {
    if (!ep.ready) continue;
    hasReady = true;
    if (!ep.nodeHints) allNodeHints = false;
    else if (ep.nodeHints.has(at.nodeName)) forNode = true;
    if (!ep.zoneHints) allZoneHints = false;
    else if (ep.zoneHints.has(at.zone)) forZone = true;
  }
  if (!hasReady) return '';
  if (allNodeHints && forNode) return 'PreferSameNode';
  if (allZoneHints && forZone) return 'PreferSameZone';
  return '';
}

/**
 * The nodes and zones that hints could single out, when every ready endpoint carries them: a
 * node outside both gets topology mode "" (every ready endpoint). Undefined when no node can.
 */
export interface TopologyHints {
  readonly nodes: ReadonlySet<string> | null;
  readonly zones: ReadonlySet<string> | null;
}

export function topologyHintsOf(endpoints: readonly EndpointInfo[]): TopologyHints | undefined {
  const ready = endpoints.filter((ep) => ep.ready);
  if (ready.length === 0) return undefined;
  const union = (pick: (ep: EndpointInfo) => ReadonlySet<string> | null) =>
    ready.every((ep) => pick(ep) !== null) ? new Set(ready.flatMap((ep) => [...pick(ep)!])) : null;
  const nodes = union((ep) => ep.nodeHints);
  const zones = union((ep) => ep.zoneHints);
  return nodes || zones ? { nodes, zones } : undefined;
}

/** The node's topology mode for a port with these hints (cheap: no pass over endpoints). */
export function topologyModeAt(hints: TopologyHints | undefined, at: NodeTopology): TopologyMode {
  if (!hints) return '';
  if (hints.nodes?.has(at.nodeName)) return 'PreferSameNode';
  if (hints.zones?.has(at.zone)) return 'PreferSameZone';
  return '';
}

function availableForTopology(ep: EndpointInfo, mode: TopologyMode, at: NodeTopology): boolean {
  if (mode === 'PreferSameNode') return ep.nodeHints?.has(at.nodeName) ?? false;
  if (mode === 'PreferSameZone') return ep.zoneHints?.has(at.zone) ?? false;
  return true;
}

const NO_TOPOLOGY: NodeTopology = { nodeName: '', zone: '' };

/**
 * kube-proxy's CategorizeEndpoints (pkg/proxy/topology.go). `cluster` must be
 * clusterEndpointsOf(endpoints), the cluster endpoints of a node no hint singles out; `localNode`
 * is the node whose local endpoints count ('' for none); `at` where the node stands for hints.
 */
export function categorizeEndpoints(
  sp: ServicePortInfo,
  endpoints: readonly EndpointInfo[],
  cluster: readonly EndpointInfo[],
  localNode: string,
  at: NodeTopology = NO_TOPOLOGY,
): CategorizedEndpoints {
  const usesCluster = usesClusterEndpoints(sp);
  const mode = usesCluster ? topologyModeOf(endpoints, at) : '';
  let clusterEps = usesCluster ? cluster : EMPTY;
  if (mode !== '') {
    const available = endpoints.filter((ep) => ep.ready && availableForTopology(ep, mode, at));
    clusterEps = available.length > 0 ? available : endpoints.filter((ep) => ep.serving && ep.terminating);
  }
  if (!usesLocalEndpoints(sp)) {
    return { cluster: clusterEps, local: EMPTY, allReachable: clusterEps, hasAny: clusterEps.length > 0 };
  }
  const hasAny = clusterEps.length > 0 || hasUsableEndpoint(endpoints);
  const { local, terminatingFallback } = localEndpointsOf(endpoints, localNode);
  if (!usesCluster) return { cluster: EMPTY, local, allReachable: local, hasAny };
  if (mode === '' && !terminatingFallback)
    return { cluster: clusterEps, local, allReachable: clusterEps, hasAny };
  // Cluster endpoints may leave out local ones (terminating, or outside the hints).
  const merged = new Map<string, EndpointInfo>();
  for (const ep of clusterEps) merged.set(ep.hostPort, ep);
  for (const ep of local) merged.set(ep.hostPort, ep);
  const allReachable = [...merged.values()].sort((a, b) =>
    a.hostPort < b.hostPort ? -1 : a.hostPort > b.hostPort ? 1 : 0,
  );
  return { cluster: clusterEps, local, allReachable, hasAny };
}
