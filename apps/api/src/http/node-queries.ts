import { Injectable } from '@nestjs/common';
import { PgEventStore } from '@netledger/event-store';
import { NetledgerError, chainKey, type IpFamily, type NodeState, type PlanCause } from '@netledger/model';
import { applyForNode, applyNodeDiff, PlanBook } from '@netledger/planner-core';
import { PlanViewService } from '../projections/plan-view.service';

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
  | {
      readonly family?: IpFamily;
      readonly table: 'filter' | 'nat';
      readonly chain: string;
      readonly rule?: string;
    }
  | { readonly route: string }
  | { readonly neighbour: string }
  | { readonly fdb: string };

/**
 * The read side's questions. Every node's desired state is resolved from the plan: now from the
 * plan view in memory, then from the ledger (the checkpoint before and the changes after it).
 * A node's revision is the plan's: every change is a revision of every node, whether or not it
 * changed that node's entries.
 */
@Injectable()
export class NodeQueries {
  constructor(
    private readonly store: PgEventStore,
    private readonly plan: PlanViewService,
  ) {}

  async nodes(): Promise<NodeSummary[]> {
    const book = await this.plan.book();
    const { rows } = await this.store.pool.query<{
      node: string;
      status: Record<string, unknown>;
      updated_at: Date;
    }>('SELECT node, status, updated_at FROM api_executor_status');
    const statuses = new Map(rows.map((r) => [r.node, r]));
    const names = [...new Set([...book.nodeNames(), ...statuses.keys()])].sort();
    const desired = book.revision;
    return names.map((name) => {
      const r = statuses.get(name);
      const applied = typeof r?.status.appliedRevision === 'number' ? r.status.appliedRevision : null;
      const lastError = typeof r?.status.lastError === 'string' ? r.status.lastError : null;
      const lag = applied === null ? null : Math.max(0, desired - applied);
      return {
        name,
        present: book.hasNode(name),
        desiredRevision: desired,
        appliedRevision: applied,
        lag,
        health: applied === null ? 'unknown' : lastError ? 'error' : lag! > 0 ? 'lagging' : 'ok',
        lastError,
        statusUpdatedAt: r?.updated_at.toISOString() ?? null,
      };
    });
  }

  /** The node's desired state now, at a revision, or as it stood at a time. */
  async state(
    node: string,
    at: { revision?: number; time?: Date } = {},
  ): Promise<{ revision: number; recordedAt: string | null; state: NodeState }> {
    const book = await this.plan.book();
    if (at.revision === undefined && at.time === undefined) {
      if (!book.hasNode(node)) throw new NetledgerError('NODE.NOT_FOUND', `no node ${JSON.stringify(node)}`);
      const recordedAt = await this.plan.headRecordedAt();
      return {
        revision: book.revision,
        recordedAt: recordedAt?.toISOString() ?? null,
        state: book.stateOf(node),
      };
    }
    if (at.revision !== undefined && at.revision > book.revision) {
      throw new NetledgerError(
        'INPUT.NO_SUCH_REVISION',
        `node ${node} has no revision ${at.revision} (its latest is ${book.revision})`,
      );
    }
    const revision = at.revision ?? (await this.plan.ledger.revisionAt(at.time!));
    const then = revision === book.revision ? book : await this.plan.ledger.book({ revision, only: node });
    const recordedAt = revision > 0 ? await this.plan.ledger.recordedAt(revision) : null;
    return { revision, recordedAt: recordedAt?.toISOString() ?? null, state: then.stateOf(node) };
  }

  /** The cluster events that made the revisions in which the selected entry appeared or changed. */
  async explain(node: string, selector: EntrySelector) {
    const book = await this.plan.book();
    if (!book.hasNode(node)) throw new NetledgerError('NODE.NOT_FOUND', `no node ${JSON.stringify(node)}`);
    const pick = (s: NodeState): unknown => {
      if ('chain' in selector) {
        const chain = s.chains.get(
          chainKey({ family: selector.family, table: selector.table, chain: selector.chain }),
        );
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
    const absent = (v: unknown) => v === undefined || same(v, []);

    // The node's plan walked through every change kept, as its executor would: only the changes
    // whose diff moved the selected entry are kept. Once history is folded (retention) the walk
    // starts at the ledger's horizon, and an entry already there is reported as present at it.
    const horizon = await this.plan.ledger.horizon();
    const walk =
      horizon > 1
        ? await this.plan.ledger.book({ revision: horizon, only: node })
        : new PlanBook({ only: node });
    let state = walk.stateOf(node);
    const found: { revision: number; recordedAt: Date; change: string; causes: PlanCause[] }[] = [];
    if (!absent(pick(state))) {
      const recordedAt = (await this.plan.ledger.recordedAt(horizon)) ?? new Date(0);
      found.push({ revision: horizon, recordedAt, change: 'present at the ledger horizon', causes: [] });
    }
    for (const recorded of await this.plan.ledger.changes(walk.revision + 1, book.revision)) {
      const { change } = recorded;
      const { diff, changes } = applyForNode(
        walk,
        change,
        node,
        await this.plan.ledger.sourceFor(walk, change),
      );
      const next = applyNodeDiff(state, diff);
      const was = pick(state);
      const is = pick(next);
      state = next;
      if (same(was, is)) continue;
      found.push({
        revision: change.revision,
        recordedAt: recorded.recordedAt,
        change: absent(was) ? 'added' : absent(is) ? 'removed' : 'changed',
        causes: recorded.causes.filter(
          (c) =>
            c.all ||
            c.nodes.length > 0 ||
            c.ports.some((p) => changes.ports.has(p)) ||
            changes.nodes.has(node),
        ),
      });
    }
    const ids = [...new Set(found.flatMap((f) => f.causes.map((c) => c.eventId)))];
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
    return {
      node,
      entry: selector,
      present: !absent(pick(state)),
      historyFrom: horizon,
      changes: found.map((f) => ({
        revision: f.revision,
        recordedAt: f.recordedAt.toISOString(),
        change: f.change,
        causes: f.causes
          .map((c) => events.get(c.eventId))
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
}
