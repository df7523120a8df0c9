import type { RecordedEvent } from '@netledger/model';

/** What the audit index knows of an event: the object or node it is about. */
export interface AuditRow {
  readonly position: number;
  readonly recordedAt: Date;
  readonly type: string;
  readonly streamId: string;
  readonly kind: string | null;
  readonly namespace: string | null;
  readonly name: string | null;
  readonly node: string | null;
}

/**
 * Reads the subject of an event from its stream id (and, for rejections, from its data). A plan
 * change is about the whole plan: it has no node of its own (explain says which changes reached a
 * node's entries).
 */
export function auditRow(e: RecordedEvent): AuditRow {
  const base = { position: e.position, recordedAt: e.recordedAt, type: e.type, streamId: e.streamId };
  const parts = e.streamId.split('/');
  if (parts[0] === 'k8s' && parts[1] === 'Node')
    return {
      ...base,
      kind: 'Node',
      namespace: null,
      name: parts.slice(2).join('/'),
      node: parts.slice(2).join('/'),
    };
  if (parts[0] === 'k8s')
    return {
      ...base,
      kind: parts[1] ?? null,
      namespace: parts[2] ?? null,
      name: parts.slice(3).join('/') || null,
      node: null,
    };
  if (parts[0] === 'k8s-rejected') {
    const d = e.data as { kind?: string; namespace?: string; name?: string };
    return {
      ...base,
      kind: d.kind ?? parts[1] ?? null,
      namespace: d.namespace ?? null,
      name: d.name ?? null,
      node: d.kind === 'Node' ? (d.name ?? null) : null,
    };
  }
  return { ...base, kind: null, namespace: null, name: null, node: null };
}
