import { Inject, Injectable } from '@nestjs/common';
import {
  checkpointOf,
  PgEventStore,
  PlanLedger,
  type OfferedOutboxRow,
  type PlanCheckpoint,
} from '@netledger/event-store';
import { encodePlanChange, signPlanMessages, topicNames } from '@netledger/messaging';
import type { OverlayConfig, ProxyConfig, RecordedEvent } from '@netledger/model';
import type { PlanBook, PlannedChange } from '@netledger/planner-core';
import { PLANNER_SETTINGS, type PlannerSettings } from '../planner-settings';

/** The model's events as the last change folded them: the latest event of every stream. */
export interface ModelRestore {
  readonly objects: RecordedEvent[];
  readonly streamVersions: Map<string, number>;
  readonly config: { proxy: ProxyConfig; overlay: OverlayConfig } | undefined;
}

/** What the planner's store holds, read side by side: the model can be folded while the plan loads. */
export interface PlannerRestore {
  readonly model: Promise<ModelRestore>;
  /** The plan as the last change left it. */
  readonly book: Promise<PlanBook>;
}

/**
 * The planner's PostgreSQL side: rebuild after a restart, and commit one batch atomically (the
 * plan change with its fragments, the folded stream versions, the cluster-events offsets after
 * the batch, the configuration, and the plan messages through the outbox).
 */
@Injectable()
export class PlannerStore {
  private readonly topic: string;
  readonly ledger: PlanLedger;
  private lastCheckpoint = 0;
  private carriedSinceCheckpoint = 0;

  constructor(
    private readonly store: PgEventStore,
    @Inject(PLANNER_SETTINGS) private readonly settings: PlannerSettings,
  ) {
    this.topic = topicNames(settings.topicPrefix).plan;
    this.ledger = new PlanLedger(store);
  }

  load(): PlannerRestore {
    const pool = this.store.pool;
    const model = (async () => {
      const [streams, config] = await Promise.all([
        pool.query<{ stream_id: string; version: string }>('SELECT stream_id, version FROM planner_streams'),
        pool.query<{ proxy: ProxyConfig; overlay: OverlayConfig }>(
          'SELECT proxy, overlay FROM planner_config WHERE id = 1',
        ),
      ]);
      const streamVersions = new Map(streams.rows.map((r) => [r.stream_id, Number(r.version)]));
      // The model snapshot by reference: for every stream folded in, the event at the folded version.
      const objects = await this.store.readAtVersions(streamVersions);
      return { streamVersions, objects, config: config.rows[0] };
    })();
    const book = (async () => {
      const plan = await this.ledger.book();
      this.lastCheckpoint = await this.ledger.checkpointBefore(plan.revision);
      this.carriedSinceCheckpoint = 0;
      return plan;
    })();
    // Neither is left unobserved when the other fails first.
    model.catch(() => undefined);
    book.catch(() => undefined);
    return { model, book };
  }

  /**
   * Commits one batch; throws (and writes nothing) when the plan moved meanwhile (another planner).
   * Returns the outbox rows written, in order, for the relay to publish without reading them back.
   */
  async commit(
    planned: PlannedChange | undefined,
    folded: ReadonlyMap<string, number>,
    config: { proxy: ProxyConfig; overlay: OverlayConfig },
    offsets: readonly { topic: string; partition: number; offset: string }[] = [],
  ): Promise<OfferedOutboxRow[]> {
    // Encoded before the transaction: the plan stream's row stays locked only for the writes.
    const messages = planned
      ? signPlanMessages(encodePlanChange(planned.change, planned.fragments), this.settings.signer).map(
          (m) => ({ topic: this.topic, ...m }),
        )
      : [];
    return this.store.transaction(async (client) => {
      let id: string | undefined;
      if (planned) {
        const last = planned.causes.at(-1);
        const event = await this.ledger.append(client, planned.change, planned.fragments, planned.causes, {
          ...(last ? { causationId: last.eventId } : {}),
        });
        // One row references the change; its messages are offered from memory, or built from the
        // ledger if the relay reads the row back (plan-messages-from-ledger).
        [id] = await this.store.enqueueEvents(client, [
          { topic: this.topic, key: 'plan', eventPosition: event.position },
        ]);
      }
      if (folded.size > 0) {
        await client.query(
          `INSERT INTO planner_streams (stream_id, version) SELECT * FROM unnest($1::text[], $2::bigint[])
           ON CONFLICT (stream_id) DO UPDATE SET version = GREATEST(planner_streams.version, EXCLUDED.version)`,
          [[...folded.keys()], [...folded.values()]],
        );
      }
      if (offsets.length > 0) {
        await client.query(
          `INSERT INTO planner_offsets (topic, partition, next_offset)
           SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])
           ON CONFLICT (topic, partition) DO UPDATE SET next_offset = GREATEST(planner_offsets.next_offset, EXCLUDED.next_offset)`,
          [offsets.map((o) => o.topic), offsets.map((o) => o.partition), offsets.map((o) => o.offset)],
        );
      }
      await client.query(
        `INSERT INTO planner_config (id, proxy, overlay) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET proxy = EXCLUDED.proxy, overlay = EXCLUDED.overlay
         WHERE planner_config.proxy IS DISTINCT FROM EXCLUDED.proxy OR planner_config.overlay IS DISTINCT FROM EXCLUDED.overlay`,
        [JSON.stringify(config.proxy), JSON.stringify(config.overlay)],
      );
      return messages.map((message) => ({ id: id!, message }));
    });
  }

  /** Where to go on reading `topic`: per partition, the offset after the last message folded. */
  async offsets(topic: string): Promise<{ partition: number; offset: string }[]> {
    const { rows } = await this.store.pool.query<{ partition: number; next_offset: string }>(
      'SELECT partition, next_offset FROM planner_offsets WHERE topic = $1',
      [topic],
    );
    return rows.map((r) => ({ partition: r.partition, offset: r.next_offset }));
  }

  /**
   * A checkpoint is due when the book is `checkpointEvery` revisions past the last one, or when the
   * fragments carried since then outnumber those the book holds: a read from the last checkpoint
   * then replays at most about one plan's worth of fragments, however busy the cluster was. The
   * snapshot is taken now; write it (ledger.writeCheckpoint) once its revision is stored.
   */
  checkpointDue(book: PlanBook, carried: number): PlanCheckpoint | undefined {
    this.carriedSinceCheckpoint += carried;
    const due =
      book.revision - this.lastCheckpoint >= this.settings.checkpointEvery ||
      this.carriedSinceCheckpoint > Math.max(1000, book.stats().fragments);
    if (!due) return undefined;
    this.lastCheckpoint = book.revision;
    this.carriedSinceCheckpoint = 0;
    return checkpointOf(book);
  }

  /**
   * Deletes cluster events recorded before `cutoff` that the model has folded past: every version
   * of a stream older than the one the planner restores from (planner_streams) goes; that one and
   * later ones stay, as do events an outbox row still has to publish. In slices, so a large backlog
   * holds no long lock. Returns how many went.
   */
  async pruneClusterEvents(cutoff: Date, slice = 20_000): Promise<number> {
    let deleted = 0;
    for (;;) {
      const { rowCount } = await this.store.pool.query(
        `DELETE FROM events WHERE position IN (
           SELECT e.position FROM events e JOIN planner_streams p ON p.stream_id = e.stream_id
            WHERE e.recorded_at < $1 AND e.stream_version < p.version
              AND NOT EXISTS (
                SELECT 1 FROM outbox o
                 WHERE o.event_position <= e.position AND coalesce(o.event_position_last, o.event_position) >= e.position)
            LIMIT $2)`,
        [cutoff, slice],
      );
      deleted += rowCount ?? 0;
      if ((rowCount ?? 0) < slice) return deleted;
    }
  }
}
