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

/**
 * kube-proxy's CategorizeEndpoints without topology-aware routing (Netledger does not read
 * topology hints yet). `cluster` must be clusterEndpointsOf(endpoints).
 */
export function categorizeEndpoints(
  sp: ServicePortInfo,
  endpoints: readonly EndpointInfo[],
  cluster: readonly EndpointInfo[],
  nodeName: string,
): CategorizedEndpoints {
  const usesCluster = usesClusterEndpoints(sp);
  const clusterEps = usesCluster ? cluster : EMPTY;
  if (!usesLocalEndpoints(sp)) {
    return { cluster: clusterEps, local: EMPTY, allReachable: clusterEps, hasAny: clusterEps.length > 0 };
  }
  const hasAny = clusterEps.length > 0 || hasUsableEndpoint(endpoints);
  const { local, terminatingFallback } = localEndpointsOf(endpoints, nodeName);
  if (!usesCluster) return { cluster: EMPTY, local, allReachable: local, hasAny };
  if (!terminatingFallback) return { cluster: clusterEps, local, allReachable: clusterEps, hasAny };
  // Cluster endpoints may be remote ones the node's terminating local endpoints are not among.
  const merged = new Map<string, EndpointInfo>();
  for (const ep of clusterEps) merged.set(ep.hostPort, ep);
  for (const ep of local) merged.set(ep.hostPort, ep);
  const allReachable = [...merged.values()].sort((a, b) =>
    a.hostPort < b.hostPort ? -1 : a.hostPort > b.hostPort ? 1 : 0,
  );
  return { cluster: clusterEps, local, allReachable, hasAny };
}
