import { ipFamily, parseCidr, type Cidr, type Protocol, type Service } from '@netledger/model';
import { serviceChainNames, type ServiceChainNames } from './chain-names';

/**
 * One port of one Service as kube-proxy's IPv4 proxier sees it (pkg/proxy/serviceport.go):
 * only IPv4 addresses, VIP-mode load-balancer ingress, policies resolved.
 */
export interface ServicePortInfo {
  /** "namespace/name:port", or "namespace/name" for an unnamed port: kube-proxy's ServicePortName. */
  readonly portName: string;
  /** "namespace/name". */
  readonly serviceKey: string;
  /** The endpoint port name this service port is matched with. */
  readonly endpointPortName: string;
  readonly protocol: Protocol;
  /** Lower-case protocol, as written in `-m tcp -p tcp`. */
  readonly proto: string;
  readonly clusterIP: string;
  readonly port: number;
  readonly nodePort: number;
  readonly externalIPs: readonly string[];
  readonly loadBalancerVIPs: readonly string[];
  readonly loadBalancerSourceRanges: readonly Cidr[];
  readonly sessionAffinityClientIP: boolean;
  readonly stickyMaxAgeSeconds: number;
  readonly externalPolicyLocal: boolean;
  readonly internalPolicyLocal: boolean;
  readonly healthCheckNodePort: number;
  readonly chains: ServiceChainNames;
}

/** kube-proxy's ServicePort.ExternallyAccessible(). */
export function externallyAccessible(sp: ServicePortInfo): boolean {
  return sp.nodePort !== 0 || sp.loadBalancerVIPs.length > 0 || sp.externalIPs.length > 0;
}

/** True when some traffic to this port uses the cluster-wide endpoints. */
export function usesClusterEndpoints(sp: ServicePortInfo): boolean {
  // External traffic from local pods is short-circuited to the cluster chain even under
  // externalTrafficPolicy Local, so any externally accessible port uses cluster endpoints.
  return !sp.internalPolicyLocal || externallyAccessible(sp);
}

/** True when some traffic to this port uses only the node's own endpoints. */
export function usesLocalEndpoints(sp: ServicePortInfo): boolean {
  return sp.internalPolicyLocal || (externallyAccessible(sp) && sp.externalPolicyLocal);
}

/** The Service is one kube-proxy programs at all: it has an IPv4 cluster IP and is not ExternalName. */
function ipv4ClusterIP(service: Service): string | undefined {
  if (service.type === 'ExternalName') return undefined;
  return service.clusterIPs.find((ip) => ipFamily(ip) === 'IPv4');
}

/** The service ports kube-proxy's IPv4 proxier programs for `service` (none for headless ones). */
export function servicePortsOf(service: Service): ServicePortInfo[] {
  const clusterIP = ipv4ClusterIP(service);
  if (clusterIP === undefined) return [];
  const serviceKey = `${service.namespace}/${service.name}`;
  const isV4 = (ip: string) => ipFamily(ip) === 'IPv4';
  const externallyAccessibleService =
    service.type === 'LoadBalancer' ||
    service.type === 'NodePort' ||
    (service.type === 'ClusterIP' && service.externalIPs.length > 0);
  const externalPolicyLocal = externallyAccessibleService && service.externalTrafficPolicy === 'Local';
  // kube-proxy reads status.loadBalancer whatever the type; Proxy-mode addresses are the LB's job.
  const loadBalancerVIPs = service.loadBalancerIngress
    .filter((i) => i.ipMode === 'VIP' && isV4(i.ip))
    .map((i) => i.ip);
  const ranges = service.loadBalancerSourceRanges
    .map((text) => parseCidr(text)!)
    .filter((c) => c.family === 'IPv4');
  // A range of /0 allows everyone: kube-proxy then writes no firewall at all.
  const sourceRanges = ranges.some((c) => c.prefix === 0) ? [] : ranges;
  return service.ports.map((p) => {
    const portName = p.name === '' ? serviceKey : `${serviceKey}:${p.name}`;
    const proto = p.protocol.toLowerCase();
    return {
      portName,
      serviceKey,
      endpointPortName: p.name,
      protocol: p.protocol,
      proto,
      clusterIP,
      port: p.port,
      nodePort: p.nodePort,
      externalIPs: service.externalIPs.filter(isV4),
      loadBalancerVIPs,
      loadBalancerSourceRanges: sourceRanges,
      sessionAffinityClientIP: service.sessionAffinity === 'ClientIP',
      stickyMaxAgeSeconds: service.sessionAffinityTimeoutSeconds,
      externalPolicyLocal,
      internalPolicyLocal: service.internalTrafficPolicy === 'Local',
      healthCheckNodePort:
        service.type === 'LoadBalancer' && externalPolicyLocal ? service.healthCheckNodePort : 0,
      chains: serviceChainNames(portName, proto),
    };
  });
}
