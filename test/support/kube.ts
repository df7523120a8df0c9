import {
  validateEndpointSlice,
  validateNode,
  validateService,
  type EndpointSlice,
  type Node,
  type Service,
} from '@netledger/model';

/** Builders of validated Kubernetes objects for tests: raw objects as the apiserver serves them. */

export interface ServiceSpec {
  type?: 'ClusterIP' | 'NodePort' | 'LoadBalancer';
  clusterIP?: string;
  ports?: { name?: string; port: number; protocol?: 'TCP' | 'UDP' | 'SCTP'; nodePort?: number }[];
  externalIPs?: string[];
  sessionAffinity?: 'None' | 'ClientIP';
  timeoutSeconds?: number;
  externalTrafficPolicy?: 'Cluster' | 'Local';
  internalTrafficPolicy?: 'Cluster' | 'Local';
  healthCheckNodePort?: number;
  loadBalancerSourceRanges?: string[];
  ingress?: string[];
}

export function rawService(namespace: string, name: string, spec: ServiceSpec): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace, name, resourceVersion: '1' },
    spec: {
      type: spec.type ?? 'ClusterIP',
      clusterIP: spec.clusterIP ?? '172.30.0.41',
      ports: (spec.ports ?? [{ name: 'p80', port: 80 }]).map((p) => ({ protocol: 'TCP', ...p })),
      ...(spec.externalIPs ? { externalIPs: spec.externalIPs } : {}),
      sessionAffinity: spec.sessionAffinity ?? 'None',
      ...(spec.timeoutSeconds
        ? { sessionAffinityConfig: { clientIP: { timeoutSeconds: spec.timeoutSeconds } } }
        : {}),
      ...(spec.externalTrafficPolicy ? { externalTrafficPolicy: spec.externalTrafficPolicy } : {}),
      ...(spec.internalTrafficPolicy ? { internalTrafficPolicy: spec.internalTrafficPolicy } : {}),
      ...(spec.healthCheckNodePort ? { healthCheckNodePort: spec.healthCheckNodePort } : {}),
      ...(spec.loadBalancerSourceRanges ? { loadBalancerSourceRanges: spec.loadBalancerSourceRanges } : {}),
    },
    status: { loadBalancer: { ingress: (spec.ingress ?? []).map((ip) => ({ ip })) } },
  };
}

export const service = (namespace: string, name: string, spec: ServiceSpec = {}): Service =>
  validateService(rawService(namespace, name, spec));

export interface EndpointSpec {
  ip: string;
  node?: string;
  ready?: boolean;
  serving?: boolean;
  terminating?: boolean;
}

export function rawSlice(
  namespace: string,
  name: string,
  serviceName: string,
  ports: { name?: string; port: number; protocol?: 'TCP' | 'UDP' | 'SCTP' }[],
  endpoints: EndpointSpec[],
): Record<string, unknown> {
  return {
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      namespace,
      name,
      labels: { 'kubernetes.io/service-name': serviceName },
      resourceVersion: '1',
    },
    addressType: 'IPv4',
    ports: ports.map((p) => ({ name: p.name ?? '', port: p.port, protocol: p.protocol ?? 'TCP' })),
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: {
        ...(e.ready !== undefined ? { ready: e.ready } : {}),
        ...(e.serving !== undefined ? { serving: e.serving } : {}),
        ...(e.terminating !== undefined ? { terminating: e.terminating } : {}),
      },
      ...(e.node ? { nodeName: e.node } : {}),
    })),
  };
}

export const slice = (
  namespace: string,
  name: string,
  serviceName: string,
  ports: { name?: string; port: number; protocol?: 'TCP' | 'UDP' | 'SCTP' }[],
  endpoints: EndpointSpec[],
): EndpointSlice => validateEndpointSlice(rawSlice(namespace, name, serviceName, ports, endpoints));

export function rawNode(
  name: string,
  internalIP: string,
  podCIDR?: string,
  annotations: Record<string, string> = {},
): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, annotations, resourceVersion: '1' },
    spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {},
    status: {
      addresses: [
        { type: 'InternalIP', address: internalIP },
        { type: 'Hostname', address: name },
      ],
    },
  };
}

export const node = (
  name: string,
  internalIP: string,
  podCIDR?: string,
  annotations?: Record<string, string>,
): Node => validateNode(rawNode(name, internalIP, podCIDR, annotations));
