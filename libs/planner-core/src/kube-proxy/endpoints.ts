import {
  DEFAULT_KUBE_PROXY_RELEASE,
  releaseMinor,
  type EndpointSlice,
  type IpFamily,
  type KubeProxyRelease,
  type Protocol,
} from '@netledger/model';

/** One endpoint of one service port as kube-proxy keeps it (pkg/proxy/endpointslicecache.go). */
export interface EndpointInfo {
  readonly ip: string;
  readonly port: number;
  /** "ip:port" ("[ip]:port" for IPv6), kube-proxy's Endpoint.String(); sort key and SEP hash input. */
  readonly hostPort: string;
  readonly nodeName: string | null;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  /** hints.forZones, or null when the endpoint has none (an empty list counts as none). */
  readonly zoneHints: ReadonlySet<string> | null;
  /** hints.forNodes, or null when none. */
  readonly nodeHints: ReadonlySet<string> | null;
}

/** Endpoints of one Service keyed by `${portName}/${protocol}` of the endpoint port. */
export type EndpointsByPort = ReadonlyMap<string, readonly EndpointInfo[]>;

export function endpointPortKey(portName: string, protocol: Protocol): string {
  return `${portName}/${protocol}`;
}

/**
 * Merges the EndpointSlices of one family of one Service into its endpoints per port, as kube-proxy does:
 * ports without a name field or a port number are ignored; an endpoint contributes its first
 * address; ready and serving default to true, terminating to false; an ip:port seen several times
 * is kept once: from v1.36 a later copy replaces an earlier one unless it is terminating; before,
 * the first copy stays (kube-proxy then let a copy on its own node replace it: see
 * docs/kube-proxy-fidelity.md). Across slices kube-proxy's map order leaves "later" undefined;
 * here it is slice name order. Each port's endpoints sorted by "ip:port" as strings.
 */
export function endpointsOfService(
  slices: Iterable<EndpointSlice>,
  release: KubeProxyRelease = DEFAULT_KUBE_PROXY_RELEASE,
  family: IpFamily = 'IPv4',
): Map<string, EndpointInfo[]> {
  const laterNonTerminatingWins = releaseMinor(release) >= 36;
  const ordered = [...slices]
    .filter((s) => s.addressType === family)
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const byPort = new Map<string, Map<string, EndpointInfo>>();
  for (const slice of ordered) {
    for (const p of slice.ports) {
      if (p.name === null || p.port === null) continue;
      const key = endpointPortKey(p.name, p.protocol);
      let set = byPort.get(key);
      if (!set) byPort.set(key, (set = new Map()));
      for (const ep of slice.endpoints) {
        const ip = ep.addresses[0]!;
        const hostPort = family === 'IPv6' ? `[${ip}]:${p.port}` : `${ip}:${p.port}`;
        const terminating = ep.terminating ?? false;
        if (set.has(hostPort) && (terminating || !laterNonTerminatingWins)) continue;
        set.set(hostPort, {
          ip,
          port: p.port,
          hostPort,
          nodeName: ep.nodeName,
          ready: ep.ready ?? true,
          serving: ep.serving ?? true,
          terminating,
          zoneHints: ep.hintsForZones.length > 0 ? new Set(ep.hintsForZones) : null,
          nodeHints: ep.hintsForNodes.length > 0 ? new Set(ep.hintsForNodes) : null,
        });
      }
    }
  }
  const result = new Map<string, EndpointInfo[]>();
  for (const [key, set] of byPort) {
    if (set.size === 0) continue;
    result.set(
      key,
      [...set.values()].sort((a, b) => (a.hostPort < b.hostPort ? -1 : a.hostPort > b.hostPort ? 1 : 0)),
    );
  }
  return result;
}
