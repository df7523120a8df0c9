import {
  ConsoleLogger,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { EventSubscription, PgEventStore } from '@netledger/event-store';
import {
  decodeNodeState,
  EMPTY_NODE_STATE,
  encodeNodeState,
  NODE_STATE_CHANGED,
  nodeStreamId,
  type NodeState,
  type NodeStateChanged,
  type RecordedEvent,
} from '@netledger/model';
import { applyNodeDiff } from '@netledger/planner-core';
import { HealthRegistry } from '@netledger/service';
import type { PoolClient } from 'pg';
import { auditRow } from './audit-row';
import { loadDiffBodies } from './diff-bodies';

const CHECKPOINT = 'api-projections';

/**
 * Builds the API's projections from the event store: the audit index over every event, each
 * node's revision history and its current desired state. Rebuildable from position 0.
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new ConsoleLogger('projector');
  private subscription: EventSubscription | undefined;
  private caughtUp = false;

  constructor(
    private readonly store: PgEventStore,
    health: HealthRegistry,
  ) {
    health.register({
      name: 'projections',
      check: async () => {
        if (!this.caughtUp) throw new Error('catching up with the event store');
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscription?.stop();
  }

  /** The position the projections have read up to. */
  position(): number {
    return this.subscription?.lastPosition ?? 0;
  }

  /** Waits until the projections have read everything stored now (tests, the rebuild endpoint). */
  async catchUp(timeoutMs = 60_000): Promise<void> {
    const head = await this.store.headPosition();
    const deadline = Date.now() + timeoutMs;
    while (this.position() < head) {
      if (Date.now() > deadline) throw new Error(`projections stuck at ${this.position()}, head ${head}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Drops every projected row and reads the whole log again. */
  async rebuild(): Promise<void> {
    await this.subscription?.stop();
    await this.store.transaction(async (c) => {
      await c.query('TRUNCATE api_nodes, api_node_revisions, api_audit');
      await this.store.saveCheckpoint(CHECKPOINT, 0, c);
    });
    await this.start();
    await this.catchUp();
  }

  private async start(): Promise<void> {
    const from = (await this.store.loadCheckpoint(CHECKPOINT)) ?? 0;
    this.caughtUp = false;
    this.subscription = new EventSubscription(this.store, {
      from,
      batchSize: 5000,
      pollMs: 200,
      handle: (events) => this.project(events),
      onError: (error) =>
        this.logger.warn(
          `projection batch failed: ${error instanceof Error ? error.message : String(error)}`,
        ),
    });
    await this.subscription.start();
    void this.catchUp(600_000).then(
      () => (this.caughtUp = true),
      () => undefined,
    );
  }

  private async project(events: readonly RecordedEvent[]): Promise<void> {
    await this.store.transaction(async (client) => {
      const rows = events.map(auditRow);
      await client.query(
        `INSERT INTO api_audit (position, recorded_at, type, stream_id, kind, namespace, name, node)
         SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
         ON CONFLICT (position) DO NOTHING`,
        [
          rows.map((r) => r.position),
          rows.map((r) => r.recordedAt),
          rows.map((r) => r.type),
          rows.map((r) => r.streamId),
          rows.map((r) => r.kind),
          rows.map((r) => r.namespace),
          rows.map((r) => r.name),
          rows.map((r) => r.node),
        ],
      );
      const revisions = events.filter((e) => e.type === NODE_STATE_CHANGED);
      // In slices: every revision loads and writes back a node's whole state.
      for (let i = 0; i < revisions.length; i += 200)
        await this.projectRevisions(client, revisions.slice(i, i + 200));
      await this.store.saveCheckpoint(CHECKPOINT, events.at(-1)!.position, client);
    });
  }

  /**
   * A revision whose base is not the projected one means one was missed: rather than stop at it
   * for good, the node's state is folded again from its whole stream, up to this revision.
   */
  private async replayNode(client: PoolClient, d: NodeStateChanged, projected: number): Promise<NodeState> {
    this.logger.error(
      `${d.node}: revision ${d.revision} is based on ${d.baseRevision}, the projection has ${projected}; folding the node's stream again`,
    );
    const stream = (await this.store.readStream(nodeStreamId(d.node), 1, d.revision)).map(
      (e) => e.data as NodeStateChanged,
    );
    const bodies = await loadDiffBodies(
      client,
      stream.map((s) => s.diffDigest),
    );
    return stream.reduce((state, s) => applyNodeDiff(state, bodies.get(s.diffDigest)!), EMPTY_NODE_STATE);
  }

  private async projectRevisions(client: PoolClient, events: readonly RecordedEvent[]): Promise<void> {
    const data = events.map((e) => e.data as NodeStateChanged);
    const bodies = await loadDiffBodies(
      client,
      data.map((d) => d.diffDigest),
    );
    const nodes = [...new Set(data.map((d) => d.node))];
    const { rows } = await client.query<{ node: string; desired_revision: string; state: unknown }>(
      'SELECT node, desired_revision, state FROM api_nodes WHERE node = ANY($1)',
      [nodes],
    );
    const current = new Map<string, { revision: number; state: NodeState }>(
      rows.map((r) => [r.node, { revision: Number(r.desired_revision), state: decodeNodeState(r.state) }]),
    );
    for (const d of data) {
      const now = current.get(d.node) ?? { revision: 0, state: EMPTY_NODE_STATE };
      if (d.revision <= now.revision) continue; // rebuilt or replayed: already in
      const state =
        d.baseRevision === now.revision
          ? applyNodeDiff(now.state, bodies.get(d.diffDigest)!)
          : await this.replayNode(client, d, now.revision);
      current.set(d.node, { revision: d.revision, state });
    }
    await client.query(
      `INSERT INTO api_node_revisions (node, revision, position, recorded_at, diff_digest, cause_ids)
       SELECT n, r, p, t, g, ARRAY(SELECT jsonb_array_elements_text(c))::uuid[]
       FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::timestamptz[], $5::text[], $6::jsonb[]) AS x(n, r, p, t, g, c)
       ON CONFLICT (node, revision) DO NOTHING`,
      [
        data.map((d) => d.node),
        data.map((d) => d.revision),
        events.map((e) => e.position),
        events.map((e) => e.recordedAt),
        data.map((d) => d.diffDigest),
        data.map((d) => JSON.stringify(d.causation.eventIds)),
      ],
    );
    const touched = nodes.map((n) => [n, current.get(n)!] as const);
    await client.query(
      `INSERT INTO api_nodes (node, desired_revision, state, present, updated_at)
       SELECT n, r, s, p, now() FROM unnest($1::text[], $2::bigint[], $3::jsonb[], $4::boolean[]) AS x(n, r, s, p)
       ON CONFLICT (node) DO UPDATE SET desired_revision = EXCLUDED.desired_revision, state = EXCLUDED.state,
         present = EXCLUDED.present, updated_at = EXCLUDED.updated_at`,
      [
        touched.map(([n]) => n),
        touched.map(([, c]) => c.revision),
        touched.map(([, c]) => JSON.stringify(encodeNodeState(c.state))),
        touched.map(
          ([, c]) => c.state.chains.size > 0 || c.state.routes.size > 0 || c.state.devices.size > 0,
        ),
      ],
    );
  }
}
