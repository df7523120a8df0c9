import { CoreV1Api, DiscoveryV1Api, type KubeConfig } from '@kubernetes/client-node';

/** A page of a list call, objects as plain JSON with their kind set (list items omit it). */
export interface ListPage {
  readonly items: Record<string, unknown>[];
  readonly resourceVersion: string;
  readonly continueToken: string | undefined;
}

/** One kind Netledger watches: where it lives and how to list it. */
export interface KubeResource {
  readonly kind: 'Node' | 'Service' | 'EndpointSlice';
  readonly apiVersion: string;
  /** Cluster-wide path, for watch. */
  readonly path: string;
  list(kc: KubeConfig, limit: number, continueToken: string | undefined): Promise<ListPage>;
}

const plain = (kind: string, apiVersion: string, items: unknown[]): Record<string, unknown>[] =>
  items.map((item) => ({
    ...(JSON.parse(JSON.stringify(item)) as Record<string, unknown>),
    kind,
    apiVersion,
  }));

export const NODES: KubeResource = {
  kind: 'Node',
  apiVersion: 'v1',
  path: '/api/v1/nodes',
  async list(kc, limit, continueToken) {
    const r = await kc
      .makeApiClient(CoreV1Api)
      .listNode({ limit, ...(continueToken ? { _continue: continueToken } : {}) });
    return {
      items: plain('Node', 'v1', r.items),
      resourceVersion: r.metadata?.resourceVersion ?? '',
      continueToken: r.metadata?._continue || undefined,
    };
  },
};

export const SERVICES: KubeResource = {
  kind: 'Service',
  apiVersion: 'v1',
  path: '/api/v1/services',
  async list(kc, limit, continueToken) {
    const r = await kc
      .makeApiClient(CoreV1Api)
      .listServiceForAllNamespaces({ limit, ...(continueToken ? { _continue: continueToken } : {}) });
    return {
      items: plain('Service', 'v1', r.items),
      resourceVersion: r.metadata?.resourceVersion ?? '',
      continueToken: r.metadata?._continue || undefined,
    };
  },
};

export const ENDPOINT_SLICES: KubeResource = {
  kind: 'EndpointSlice',
  apiVersion: 'discovery.k8s.io/v1',
  path: '/apis/discovery.k8s.io/v1/endpointslices',
  async list(kc, limit, continueToken) {
    const r = await kc
      .makeApiClient(DiscoveryV1Api)
      .listEndpointSliceForAllNamespaces({ limit, ...(continueToken ? { _continue: continueToken } : {}) });
    return {
      items: plain('EndpointSlice', 'discovery.k8s.io/v1', r.items),
      resourceVersion: r.metadata?.resourceVersion ?? '',
      continueToken: r.metadata?._continue || undefined,
    };
  },
};

export const WATCHED_RESOURCES: readonly KubeResource[] = [NODES, SERVICES, ENDPOINT_SLICES];
