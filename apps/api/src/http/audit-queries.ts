import { Injectable } from '@nestjs/common';
import { PgEventStore } from '@netledger/event-store';
import { NetledgerError } from '@netledger/model';

export interface AuditFilter {
  readonly from?: Date;
  readonly to?: Date;
  readonly node?: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly type?: string;
  readonly limit: number;
  readonly cursor?: string;
}

/** Cursors are opaque to clients: the last global position returned, base64url-encoded. */
export const encodeCursor = (position: number) => Buffer.from(`p:${position}`).toString('base64url');
export function decodeCursor(cursor: string): number {
  const text = Buffer.from(cursor, 'base64url').toString();
  const m = /^p:(\d{1,18})$/.exec(text);
  if (!m) throw new NetledgerError('INPUT.INVALID_CURSOR', 'cursor is not one this API gave out');
  return Number(m[1]);
}

/**
 * Audit queries over every event (cluster inputs, rejections, revisions), in global position
 * order. Pages are stable under concurrent appends: a page ends at a position, the next starts
 * after it, and the projection only ever adds positions above what it has read.
 */
@Injectable()
export class AuditQueries {
  constructor(private readonly store: PgEventStore) {}

  async query(f: AuditFilter) {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (f.cursor) add('a.position > ?', decodeCursor(f.cursor));
    if (f.from) add('a.recorded_at >= ?', f.from);
    if (f.to) add('a.recorded_at < ?', f.to);
    if (f.node) add('a.node = ?', f.node);
    if (f.kind) add('a.kind = ?', f.kind);
    if (f.namespace) add('a.namespace = ?', f.namespace);
    if (f.name) add('a.name = ?', f.name);
    if (f.type) add('a.type = ?', f.type);
    params.push(f.limit + 1);
    const { rows } = await this.store.pool.query<{
      position: string;
      recorded_at: Date;
      type: string;
      stream_id: string;
      kind: string | null;
      namespace: string | null;
      name: string | null;
      node: string | null;
      event_id: string;
      stream_version: string;
      data: unknown;
      metadata: unknown;
    }>(
      `SELECT a.position, a.recorded_at, a.type, a.stream_id, a.kind, a.namespace, a.name, a.node,
              e.event_id, e.stream_version, e.data, e.metadata
       FROM api_audit a JOIN events e ON e.position = a.position
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY a.position LIMIT $${params.length}`,
      params,
    );
    const page = rows.slice(0, f.limit);
    return {
      events: page.map((r) => ({
        position: Number(r.position),
        eventId: r.event_id,
        recordedAt: r.recorded_at.toISOString(),
        type: r.type,
        streamId: r.stream_id,
        streamVersion: Number(r.stream_version),
        subject: { kind: r.kind, namespace: r.namespace, name: r.name, node: r.node },
        data: r.data,
        metadata: r.metadata,
      })),
      nextCursor: rows.length > f.limit ? encodeCursor(Number(page.at(-1)!.position)) : null,
    };
  }
}
