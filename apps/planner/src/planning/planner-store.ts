import { Inject, Injectable } from '@nestjs/common';
import { newEventId, PgEventStore, type OfferedOutboxRow, type OutboxMessage } from '@netledger/event-store';
import {
  diffBodyKey,
  diffDigest,
  encodeDiffBody,
  encodeEventMessage,
  partitionForKey,
  topicNames,
} from '@netledger/messaging';
import {
  encodeNodeState,
  NODE_EVENT_VERSIONS,
  NODE_STATE_CHANGED,
  nodeStreamId,
  type NodeSnapshot,
  type NodeStateChanged,
  type OverlayConfig,
  type ProxyConfig,
  type RecordedEvent,
} from '@netledger/model';
import type { NodeRevision } from '@netledger/planner-core';
import { PLANNER_SETTINGS, type PlannerSettings } from '../planner-settings';

/** What the planner's store holds: folded cluster streams, node revisions, last configuration. */
export interface PlannerRestore {
  readonly objects: RecordedEvent[];
  readonly streamVersions: Map<string, number>;
  readonly nodeRevisions: Map<string, number>;
  readonly config: { proxy: ProxyConfig; overlay: OverlayConfig } | undefined;
}

/**
 * The planner's PostgreSQL side: rebuild after a restart, and commit one batch atomically
 * (NodeStateChanged per changed node, the folded stream versions, the configuration, and the
 * node-diffs / node-snapshots messages through the outbox).
 */
@Injectable()
export class PlannerStore {
  private readonly topics: ReturnType<typeof topicNames>;

  constructor(
    private readonly store: PgEventStore,
    @Inject(PLANNER_SETTINGS) private readonly settings: PlannerSettings,
  ) {
    this.topics = topicNames(settings.topicPrefix);
  }

  async load(): Promise<PlannerRestore> {
    const pool = this.store.pool;
    const streams = await pool.query<{ stream_id: string; version: string }>(
      'SELECT stream_id, version FROM planner_streams',
    );
    const streamVersions = new Map(streams.rows.map((r) => [r.stream_id, Number(r.version)]));
    // The model snapshot by reference: for every stream folded in, the event at the folded version.
    const objects = await this.store.readAtVersions(streamVersions);
    const nodes = await pool.query<{ stream_id: string; version: string }>(
      "SELECT stream_id, version FROM streams WHERE stream_id LIKE 'node/%'",
    );
    const config = await pool.query<{ proxy: ProxyConfig; overlay: OverlayConfig }>(
      'SELECT proxy, overlay FROM planner_config WHERE id = 1',
    );
    return {
      objects,
      streamVersions,
      nodeRevisions: new Map(nodes.rows.map((r) => [r.stream_id.slice('node/'.length), Number(r.version)])),
      config: config.rows[0],
    };
  }

  private nodeDiffsPartitions = 1;

  /** The partition count of node-diffs (diff bodies go to the partitions of the nodes needing them). */
  setNodeDiffsPartitions(partitions: number): void {
    this.nodeDiffsPartitions = partitions;
  }

  /**
   * Commits one batch; throws (and writes nothing) when any node stream moved meanwhile. Returns
   * the outbox rows written, in order, for the relay to publish without reading them back.
   */
  async commit(
    revisions: readonly NodeRevision[],
    folded: ReadonlyMap<string, number>,
    config: { proxy: ProxyConfig; overlay: OverlayConfig },
  ): Promise<OfferedOutboxRow[]> {
    // One change usually gives thousands of nodes the same diff: it is digested, stored and sent
    // once. Keyed by the diff's JSON, whose digest is its content address.
    const bodies = new Map<string, { digest: string; partitions: Set<number> }>();
    const digests = revisions.map((r) => {
      const json = JSON.stringify(r.diff);
      let body = bodies.get(json);
      if (!body) bodies.set(json, (body = { digest: diffDigest(json), partitions: new Set() }));
      body.partitions.add(partitionForKey(r.node, this.nodeDiffsPartitions));
      return body.digest;
    });
    // NOTE: bodies are enqueued before the revisions that need them, so on every partition a
    // consumer meets a body before the revision that refers to it.
    const bodyMessages: OutboxMessage[] = [];
    for (const [json, { digest, partitions }] of bodies) {
      for (const partition of partitions) {
        bodyMessages.push({
          topic: this.topics.nodeDiffs,
          key: diffBodyKey(digest),
          value: encodeDiffBody(digest, json),
          partition,
        });
      }
    }
    // Encoded before the transaction: the streams' rows stay locked only for the writes.
    const snapshotMessages = this.snapshotMessages(revisions);
    return this.store.transaction(async (client) => {
      if (bodies.size > 0) {
        await client.query(
          `INSERT INTO node_diff_bodies (digest, body) SELECT * FROM unnest($1::text[], $2::jsonb[]) ON CONFLICT DO NOTHING`,
          [[...bodies.values()].map((b) => b.digest), [...bodies.keys()]],
        );
      }
      const recorded = await this.store.appendToStreams(
        client,
        revisions.map((r, i) => {
          const data: NodeStateChanged = {
            node: r.node,
            baseRevision: r.baseRevision,
            revision: r.revision,
            diffDigest: digests[i]!,
            causation: {
              eventIds: r.causation.map((e) => e.eventId),
              positions: r.causation.map((e) => e.position),
            },
          };
          return {
            streamId: nodeStreamId(r.node),
            expected: r.baseRevision,
            events: [
              {
                eventId: newEventId(),
                type: NODE_STATE_CHANGED,
                schemaVersion: NODE_EVENT_VERSIONS.get(NODE_STATE_CHANGED)!,
                data,
                metadata: {
                  causationId: r.causation.at(-1)?.eventId,
                  correlationId: r.causation.at(-1)?.metadata.correlationId as string | undefined,
                },
              },
            ],
          };
        }),
      );
      const bodyIds = await this.store.enqueue(client, bodyMessages);
      // Each revision's event is the node-diffs message, keyed by node (its stream's name): one
      // outbox row covers them all, and a relay reading the table builds them from the events.
      const revisionMessages = recorded.map((event, i) => ({
        topic: this.topics.nodeDiffs,
        key: revisions[i]!.node,
        event,
      }));
      const positions = recorded.map((e) => e.position);
      const revisionsId =
        recorded.length > 0
          ? await this.store.enqueueEventRange(client, {
              topic: this.topics.nodeDiffs,
              firstPosition: Math.min(...positions),
              lastPosition: Math.max(...positions),
            })
          : undefined;
      const snapshotIds = await this.store.enqueue(client, snapshotMessages);
      if (folded.size > 0) {
        await client.query(
          `INSERT INTO planner_streams (stream_id, version) SELECT * FROM unnest($1::text[], $2::bigint[])
           ON CONFLICT (stream_id) DO UPDATE SET version = GREATEST(planner_streams.version, EXCLUDED.version)`,
          [[...folded.keys()], [...folded.values()]],
        );
      }
      await client.query(
        `INSERT INTO planner_config (id, proxy, overlay) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET proxy = EXCLUDED.proxy, overlay = EXCLUDED.overlay`,
        [JSON.stringify(config.proxy), JSON.stringify(config.overlay)],
      );
      return [
        ...bodyMessages.map((message, i) => ({ id: bodyIds[i]!, message })),
        ...revisionMessages.map((m) => ({
          id: revisionsId!,
          message: { topic: m.topic, key: m.key, value: encodeEventMessage(m.event) },
        })),
        ...snapshotMessages.map((message, i) => ({ id: snapshotIds[i]!, message })),
      ];
    });
  }

  /** Each revision's full state for node-snapshots; states too large for a message are left to the API. */
  private snapshotMessages(revisions: readonly NodeRevision[]): OutboxMessage[] {
    const messages: OutboxMessage[] = [];
    for (const r of revisions) {
      if (r.estimatedStateBytes > this.settings.snapshotMaxBytes) continue;
      const snapshot: NodeSnapshot = {
        node: r.node,
        revision: r.revision,
        state: encodeNodeState(r.state()),
      };
      const value = JSON.stringify(snapshot);
      if (value.length <= this.settings.snapshotMaxBytes)
        messages.push({ topic: this.topics.nodeSnapshots, key: r.node, value });
    }
    return messages;
  }
}
