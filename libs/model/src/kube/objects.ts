/**
 * The Kubernetes objects Netledger reads, with only the fields it uses, after validation:
 * every IP is canonical, every name obeys its Kubernetes rule, every port is in range.
 */

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ObjectMeta {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
}

export interface ServicePort {
  /** "" for the single unnamed port. */
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** 0 when the Service has none. */
  readonly nodePort: number;
}

export interface LoadBalancerIngress {
  readonly ip: string;
  /** kube-proxy programs only VIP-mode addresses. */
  readonly ipMode: 'VIP' | 'Proxy';
}

export interface Service extends ObjectMeta {
  readonly kind: 'Service';
  readonly type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  /** Canonical IPs; empty for headless ("None") and ExternalName Services. */
  readonly clusterIPs: readonly string[];
  readonly ports: readonly ServicePort[];
  readonly externalIPs: readonly string[];
  readonly sessionAffinity: 'None' | 'ClientIP';
  /** spec.sessionAffinityConfig.clientIP.timeoutSeconds, 10800 when unset. */
  readonly sessionAffinityTimeoutSeconds: number;
  readonly externalTrafficPolicy: 'Cluster' | 'Local';
  readonly internalTrafficPolicy: 'Cluster' | 'Local';
  /** 0 when none. */
  readonly healthCheckNodePort: number;
  /** Canonical CIDRs ("network/prefix"). */
  readonly loadBalancerSourceRanges: readonly string[];
  readonly loadBalancerIngress: readonly LoadBalancerIngress[];
}

export interface EndpointPort {
  /** null when the slice's port has no name field (kube-proxy ignores such ports). */
  readonly name: string | null;
  /** null when unset (kube-proxy ignores such ports). */
  readonly port: number | null;
  readonly protocol: Protocol;
}

export interface Endpoint {
  /** Canonical IPs; kube-proxy uses the first. */
  readonly addresses: readonly string[];
  /** Conditions as given: null means unset (ready and serving default to true, terminating to false). */
  readonly ready: boolean | null;
  readonly serving: boolean | null;
  readonly terminating: boolean | null;
  readonly nodeName: string | null;
  readonly zone: string | null;
  readonly hintsForZones: readonly string[];
  readonly hintsForNodes: readonly string[];
}

export interface EndpointSlice extends ObjectMeta {
  readonly kind: 'EndpointSlice';
  /** The kubernetes.io/service-name label; null when absent (kube-proxy ignores the slice). */
  readonly serviceName: string | null;
  readonly addressType: 'IPv4' | 'IPv6' | 'FQDN';
  readonly ports: readonly EndpointPort[];
  readonly endpoints: readonly Endpoint[];
}

export interface NodeAddress {
  readonly type: string;
  readonly address: string;
}

export interface Node {
  readonly kind: 'Node';
  readonly name: string;
  readonly uid?: string;
  readonly resourceVersion?: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Only the annotations Netledger reads (flannel's), as given. */
  readonly annotations: Readonly<Record<string, string>>;
  /** flannel's public-ip-overwrite, else public-ip annotation, validated; null when absent. */
  readonly flannelPublicIp: string | null;
  /** VtepMAC from flannel's backend-data annotation, validated and lower-cased; null when absent. */
  readonly flannelVtepMac: string | null;
  /** flannel's public-ipv6-overwrite, else public-ipv6 annotation (an IPv6 address); absent when neither is. */
  readonly flannelPublicIpv6?: string;
  /** VtepMAC from flannel's backend-v6-data annotation (its flannel-v6 device), lower-cased. */
  readonly flannelV6VtepMac?: string;
  /** Canonical CIDRs; spec.podCIDRs, or [spec.podCIDR]. */
  readonly podCIDRs: readonly string[];
  readonly addresses: readonly NodeAddress[];
}

export type KubeObject = Service | EndpointSlice | Node;
export type KubeKind = KubeObject['kind'];
