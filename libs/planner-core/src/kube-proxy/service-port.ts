import { ipFamily, parseCidr, type Cidr, type IpFamily, type Protocol, type Service } from '@netledger/model';
import { serviceChainNames, type ServiceChainNames } from './chain-names';

/**
 * One port of one Service as kube-proxy's proxier of one IP family sees it
 * (pkg/proxy/serviceport.go): only that family's addresses, VIP-mode load-balancer ingress,
 * policies resolved.
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

/** The Service's cluster IP of `family`, if kube-proxy programs it at all (not ExternalName). */
function clusterIPOf(service: Service, family: IpFamily): string | undefined {
  if (service.type === 'ExternalName') return undefined;
  return service.clusterIPs.find((ip) => ipFamily(ip) === family);
}

/**
 * The service ports kube-proxy's proxier of `family` programs for `service`: none for headless
 * ones, nor for a Service without a cluster IP of that family (single-stack of the other).
 */
export function servicePortsOf(service: Service, family: IpFamily = 'IPv4'): ServicePortInfo[] {
  const clusterIP = clusterIPOf(service, family);
  if (clusterIP === undefined) return [];
  const serviceKey = `${service.namespace}/${service.name}`;
  const ofFamily = (ip: string) => ipFamily(ip) === family;
  const externallyAccessibleService =
    service.type === 'LoadBalancer' ||
    service.type === 'NodePort' ||
    (service.type === 'ClusterIP' && service.externalIPs.length > 0);
  const externalPolicyLocal = externallyAccessibleService && service.externalTrafficPolicy === 'Local';
  // kube-proxy reads status.loadBalancer whatever the type; Proxy-mode addresses are the LB's job.
  const loadBalancerVIPs = service.loadBalancerIngress
    .filter((i) => i.ipMode === 'VIP' && ofFamily(i.ip))
    .map((i) => i.ip);
  const ranges = service.loadBalancerSourceRanges
    .map((text) => parseCidr(text)!)
    .filter((c) => c.family === family);
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
      externalIPs: service.externalIPs.filter(ofFamily),
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
