import { Injectable } from '@nestjs/common';
import { PgEventStore } from '@netledger/event-store';
import {
  decodeNodeState,
  EMPTY_NODE_STATE,
  NetledgerError,
  chainKey,
  type NodeState,
} from '@netledger/model';
import { applyNodeDiff } from '@netledger/planner-core';
import { loadDiffBodies } from '../projections/diff-bodies';

export interface NodeSummary {
  readonly name: string;
  readonly present: boolean;
  readonly desiredRevision: number;
  readonly appliedRevision: number | null;
  readonly lag: number | null;
  readonly health: 'ok' | 'lagging' | 'error' | 'unknown';
  readonly lastError: string | null;
  readonly statusUpdatedAt: string | null;
}

/** Which entry of a node's state to explain. */
export type EntrySelector =
  | { readonly table: 'filter' | 'nat'; readonly chain: string; readonly rule?: string }
  | { readonly route: string }
  | { readonly neighbour: string }
  | { readonly fdb: string };

interface RevisionRow {
  revision: string;
  position: string;
  recorded_at: Date;
  diff_digest: string;
  cause_ids: string[];
}

/** The read side's questions, answered from the projections (and the event store for causes). */
@Injectable()
export class NodeQueries {
  constructor(private readonly store: PgEventStore) {}

  async nodes(): Promise<NodeSummary[]> {
    const { rows } = await this.store.pool.query<{
      node: string;
      present: boolean;
      desired_revision: string;
      status: Record<string, unknown> | null;
      updated_at: Date | null;
    }>(
      `SELECT n.node, n.present, n.desired_revision, s.status, s.updated_at
       FROM api_nodes n LEFT JOIN api_executor_status s ON s.node = n.node ORDER BY n.node`,
    );
    return rows.map((r) => {
      const desired = Number(r.desired_revision);
      const applied = typeof r.status?.appliedRevision === 'number' ? r.status.appliedRevision : null;
      const lastError = typeof r.status?.lastError === 'string' ? r.status.lastError : null;
      const lag = applied === null ? null : Math.max(0, desired - applied);
      return {
        name: r.node,
        present: r.present,
        desiredRevision: desired,
        appliedRevision: applied,
        lag,
        health: applied === null ? 'unknown' : lastError ? 'error' : lag! > 0 ? 'lagging' : 'ok',
        lastError,
        statusUpdatedAt: r.updated_at?.toISOString() ?? null,
      };
    });
  }

  /** The node's desired state now, at a revision, or as it stood at a time. */
  async state(
    node: string,
    at: { revision?: number; time?: Date } = {},
  ): Promise<{ revision: number; recordedAt: string | null; state: NodeState }> {
    const current = await this.current(node);
    if (at.revision === undefined && at.time === undefined) return current;
    if (at.revision !== undefined && at.revision > current.revision) {
      throw new NetledgerError(
        'INPUT.NO_SUCH_REVISION',
        `node ${node} has no revision ${at.revision} (its latest is ${current.revision})`,
      );
    }
    const revisions = await this.revisions(node, at);
    const state = await this.replay(revisions);
    const last = revisions.at(-1);
    return {
      revision: last ? Number(last.revision) : 0,
      recordedAt: last?.recorded_at.toISOString() ?? null,
      state,
    };
  }

  /** Each revision in order (for explain): the state after it, and its causes. */
  async history(
    node: string,
  ): Promise<
    { revision: number; recordedAt: string; causeIds: string[]; before: NodeState; after: NodeState }[]
  > {
    await this.current(node);
    const revisions = await this.revisions(node, {});
    const bodies = await loadDiffBodies(
      this.store.pool,
      revisions.map((r) => r.diff_digest),
    );
    let state = EMPTY_NODE_STATE;
    return revisions.map((r) => {
      const before = state;
      state = applyNodeDiff(state, bodies.get(r.diff_digest)!);
      return {
        revision: Number(r.revision),
        recordedAt: r.recorded_at.toISOString(),
        causeIds: r.cause_ids,
        before,
        after: state,
      };
    });
  }

  /** The cluster events that made the revisions in which the selected entry appeared or changed. */
  async explain(node: string, selector: EntrySelector) {
    const history = await this.history(node);
    const pick = (s: NodeState): unknown => {
      if ('chain' in selector) {
        const chain = s.chains.get(chainKey({ table: selector.table, chain: selector.chain }));
        if (!chain) return undefined;
        return selector.rule === undefined
          ? chain.rules
          : chain.rules.includes(selector.rule)
            ? selector.rule
            : undefined;
      }
      if ('route' in selector) return s.routes.get(selector.route);
      if ('neighbour' in selector) return [...s.neighbours.values()].find((n) => n.ip === selector.neighbour);
      return [...s.fdb.values()].filter((f) => f.mac === selector.fdb.toLowerCase());
    };
    const same = (a: unknown, b: unknown) =>
      JSON.stringify(a ?? null) === JSON.stringify(b ?? null) ||
      (Array.isArray(a) && Array.isArray(b) && a.length === 0 && b.length === 0);
    const changes = history.filter((h) => !same(pick(h.before), pick(h.after)));
    const ids = [...new Set(changes.flatMap((c) => c.causeIds))];
    const { rows } = await this.store.pool.query<{
      event_id: string;
      position: string;
      type: string;
      stream_id: string;
      metadata: Record<string, unknown>;
      recorded_at: Date;
    }>(
      'SELECT event_id, position, type, stream_id, metadata, recorded_at FROM events WHERE event_id = ANY($1::uuid[])',
      [ids],
    );
    const events = new Map(rows.map((r) => [r.event_id, r]));
    const current = history.at(-1);
    return {
      node,
      entry: selector,
      present: current ? !same(pick(current.after), undefined) && !same(pick(current.after), []) : false,
      changes: changes.map((c) => ({
        revision: c.revision,
        recordedAt: c.recordedAt,
        change:
          pick(c.before) === undefined || same(pick(c.before), [])
            ? 'added'
            : pick(c.after) === undefined || same(pick(c.after), [])
              ? 'removed'
              : 'changed',
        causes: c.causeIds
          .map((id) => events.get(id))
          .filter((e) => e !== undefined)
          .map((e) => {
            const [, kind, ...rest] = e.stream_id.split('/');
            const namespaced = kind !== 'Node';
            return {
              eventId: e.event_id,
              position: Number(e.position),
              type: e.type,
              object: {
                kind,
                namespace: namespaced ? rest[0] : undefined,
                name: namespaced ? rest.slice(1).join('/') : rest.join('/'),
              },
              resourceVersion: e.metadata.sourceResourceVersion ?? null,
              recordedAt: e.recorded_at.toISOString(),
            };
          }),
      })),
    };
  }

  private async current(
    node: string,
  ): Promise<{ revision: number; recordedAt: string | null; state: NodeState }> {
    // recordedAt is the revision's, as for a past revision (not when the projection wrote it).
    const { rows } = await this.store.pool.query<{
      desired_revision: string;
      state: unknown;
      recorded_at: Date | null;
    }>(
      `SELECT n.desired_revision, n.state, r.recorded_at FROM api_nodes n
       LEFT JOIN api_node_revisions r ON r.node = n.node AND r.revision = n.desired_revision
       WHERE n.node = $1`,
      [node],
    );
    if (!rows[0]) throw new NetledgerError('NODE.NOT_FOUND', `no node ${JSON.stringify(node)}`);
    return {
      revision: Number(rows[0].desired_revision),
      recordedAt: rows[0].recorded_at?.toISOString() ?? null,
      state: decodeNodeState(rows[0].state),
    };
  }

  private async revisions(node: string, upTo: { revision?: number; time?: Date }): Promise<RevisionRow[]> {
    const { rows } = await this.store.pool.query<RevisionRow>(
      `SELECT revision, position, recorded_at, diff_digest, cause_ids::text[] AS cause_ids FROM api_node_revisions
       WHERE node = $1 AND ($2::bigint IS NULL OR revision <= $2) AND ($3::timestamptz IS NULL OR recorded_at <= $3)
       ORDER BY revision`,
      [node, upTo.revision ?? null, upTo.time ?? null],
    );
    return rows;
  }

  private async replay(revisions: RevisionRow[]): Promise<NodeState> {
    const bodies = await loadDiffBodies(
      this.store.pool,
      revisions.map((r) => r.diff_digest),
    );
    let state = EMPTY_NODE_STATE;
    for (const r of revisions) state = applyNodeDiff(state, bodies.get(r.diff_digest)!);
    return state;
  }
}
