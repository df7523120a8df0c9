import type { KubeKind, KubeObject, Node } from '../kube/objects';
import type { DroppedElement } from '../kube/validate';
import type { Upcaster } from './event-envelope';

/*
 * What the ingester records, one stream per Kubernetes object (`k8s/<Kind>/<namespace>/<name>`):
 * the object as Netledger validated it, its deletion, or why it was refused.
 */

export const KUBE_OBJECT_APPLIED = 'KubeObjectApplied';
export const KUBE_OBJECT_DELETED = 'KubeObjectDeleted';
export const KUBE_OBJECT_REJECTED = 'KubeObjectRejected';

export interface KubeObjectApplied {
  readonly object: KubeObject;
  /**
   * Elements of the object as served that validation left out, and why (as kube-proxy leaves them
   * out); absent when none. The audit trail of "programmed, but not all of it".
   */
  readonly dropped?: readonly DroppedElement[];
}

export interface KubeObjectDeleted {
  readonly kind: KubeKind;
  readonly namespace: string;
  readonly name: string;
  /** True when the ingester inferred the deletion from a relist (the watch missed it). */
  readonly inferred: boolean;
}

export interface KubeObjectRejected {
  readonly kind: string;
  readonly namespace: string | undefined;
  readonly name: string | undefined;
  readonly field: string | undefined;
  readonly reason: string;
}

export type ClusterEventType =
  typeof KUBE_OBJECT_APPLIED | typeof KUBE_OBJECT_DELETED | typeof KUBE_OBJECT_REJECTED;

/** Current schema versions of the cluster events. */
export const CLUSTER_EVENT_VERSIONS: ReadonlyMap<string, number> = new Map([
  [KUBE_OBJECT_APPLIED, 2],
  [KUBE_OBJECT_DELETED, 1],
  [KUBE_OBJECT_REJECTED, 1],
]);

/**
 * v1 KubeObjectApplied Nodes predate the validated flannel fields: v2 derives them from the
 * annotations v1 already kept (null where absent, as validation would have given).
 */
export const CLUSTER_EVENT_UPCASTERS: readonly Upcaster[] = [
  {
    type: KUBE_OBJECT_APPLIED,
    fromVersion: 1,
    upcast(data: unknown): unknown {
      const { object } = data as { object: KubeObject };
      if (object.kind !== 'Node') return data;
      const annotations = object.annotations ?? {};
      const publicIp =
        annotations['flannel.alpha.coreos.com/public-ip-overwrite'] ??
        annotations['flannel.alpha.coreos.com/public-ip'] ??
        null;
      const node: Node = {
        ...object,
        flannelPublicIp: publicIp,
        flannelVtepMac: macOf(annotations['flannel.alpha.coreos.com/backend-data']),
      };
      return { object: node };
    },
  },
];

function macOf(backendData: string | undefined): string | null {
  try {
    const parsed = JSON.parse(backendData ?? 'null') as { VtepMAC?: string } | null;
    return parsed?.VtepMAC?.toLowerCase() ?? null;
  } catch {
    return null;
  }
}
/** The stream of a Kubernetes object. */
export function kubeStreamId(kind: string, namespace: string | undefined, name: string): string {
  return kind === 'Node' ? `k8s/Node/${name}` : `k8s/${kind}/${namespace ?? ''}/${name}`;
}
