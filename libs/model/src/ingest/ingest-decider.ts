import { isNetledgerError } from '../errors/netledger-error';
import {
  CLUSTER_EVENT_VERSIONS,
  KUBE_OBJECT_APPLIED,
  KUBE_OBJECT_DELETED,
  KUBE_OBJECT_REJECTED,
  kubeStreamId,
  type KubeObjectApplied,
  type KubeObjectDeleted,
  type KubeObjectRejected,
} from '../events/cluster-events';
import type { KubeKind, KubeObject } from '../kube/objects';
import { validateObjectReporting, type DroppedElement } from '../kube/validate';
import { canonicalJson } from './canonical-json';

/** What the ingester saw of one object. */
export type Observation =
  | { readonly type: 'seen'; readonly raw: unknown; readonly resourceVersion: string }
  | {
      readonly type: 'gone';
      readonly kind: KubeKind;
      readonly namespace: string | undefined;
      readonly name: string;
      readonly resourceVersion: string;
      /** Inferred from a relist: the watch never delivered the deletion. */
      readonly inferred: boolean;
    };

/** What the ingester remembers of an object's stream. */
export interface KnownObject {
  readonly streamVersion: number;
  /** Digest of the last applied form; null once deleted. */
  readonly digest: string | null;
}

export type Decision =
  | {
      readonly outcome: 'append';
      readonly streamId: string;
      readonly kind: KubeKind;
      readonly namespace: string | undefined;
      readonly name: string;
      readonly event: { type: string; schemaVersion: number; data: KubeObjectApplied | KubeObjectDeleted };
      readonly digest: string | null;
    }
  | {
      readonly outcome: 'reject';
      readonly streamId: string;
      readonly event: { type: string; schemaVersion: number; data: KubeObjectRejected };
    }
  | { readonly outcome: 'ignore'; readonly reason: 'unchanged' | 'not-known' };

/** The form of an object that counts: its resourceVersion (which changes on every write) left out. */
export function withoutResourceVersion(object: KubeObject): KubeObject {
  const { resourceVersion: _rv, ...rest } = object;
  return rest as KubeObject;
}

/** Digest of the fields Netledger reads: equal digests mean an update changed nothing it uses. */
export function objectDigest(object: KubeObject): string {
  return canonicalJson(withoutResourceVersion(object));
}

/**
 * Decides what one observation becomes, given what is known of the object (pure): an applied or
 * deleted event on the object's stream (an applied one names the elements validation dropped), a
 * rejection when it fails validation, or nothing when it changes nothing Netledger reads
 * (status-only noise) or deletes what was never known.
 */
export function decideObservation(
  observation: Observation,
  known: (streamId: string) => KnownObject | undefined,
): Decision {
  if (observation.type === 'gone') {
    const streamId = kubeStreamId(observation.kind, observation.namespace, observation.name);
    const current = known(streamId);
    if (!current || current.digest === null) return { outcome: 'ignore', reason: 'not-known' };
    const data: KubeObjectDeleted = {
      kind: observation.kind,
      namespace: observation.namespace ?? '',
      name: observation.name,
      inferred: observation.inferred,
    };
    return {
      outcome: 'append',
      streamId,
      kind: observation.kind,
      namespace: observation.namespace,
      name: observation.name,
      event: {
        type: KUBE_OBJECT_DELETED,
        schemaVersion: CLUSTER_EVENT_VERSIONS.get(KUBE_OBJECT_DELETED)!,
        data,
      },
      digest: null,
    };
  }
  let object: KubeObject;
  let dropped: DroppedElement[];
  try {
    ({ object, dropped } = validateObjectReporting(observation.raw));
  } catch (error) {
    const meta =
      (observation.raw as { kind?: unknown; metadata?: { namespace?: unknown; name?: unknown } } | null) ??
      {};
    const kind = typeof meta.kind === 'string' ? meta.kind : 'Unknown';
    const details = isNetledgerError(error) ? error.details : {};
    const data: KubeObjectRejected = {
      kind,
      namespace:
        typeof meta.metadata?.namespace === 'string' ? meta.metadata.namespace.slice(0, 253) : undefined,
      name: typeof meta.metadata?.name === 'string' ? meta.metadata.name.slice(0, 253) : undefined,
      field: typeof details.field === 'string' ? details.field : undefined,
      reason: error instanceof Error ? error.message : String(error),
    };
    return {
      outcome: 'reject',
      streamId: `k8s-rejected/${kind.replace(/[^A-Za-z]/g, '').slice(0, 40) || 'Unknown'}`,
      event: {
        type: KUBE_OBJECT_REJECTED,
        schemaVersion: CLUSTER_EVENT_VERSIONS.get(KUBE_OBJECT_REJECTED)!,
        data,
      },
    };
  }
  const namespace = object.kind === 'Node' ? undefined : object.namespace;
  const streamId = kubeStreamId(object.kind, namespace, object.name);
  const digest = objectDigest(object);
  if (known(streamId)?.digest === digest) return { outcome: 'ignore', reason: 'unchanged' };
  return {
    outcome: 'append',
    streamId,
    kind: object.kind,
    namespace,
    name: object.name,
    event: {
      type: KUBE_OBJECT_APPLIED,
      schemaVersion: CLUSTER_EVENT_VERSIONS.get(KUBE_OBJECT_APPLIED)!,
      data: {
        object: withoutResourceVersion(object),
        ...(dropped.length > 0 ? { dropped } : {}),
      },
    },
    digest,
  };
}
