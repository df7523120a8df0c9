import type { Pool, PoolClient } from 'pg';
import { COMMITTED_BEFORE_RUNNING, type OutboxMessage } from './event-store';
import { EventsListener } from './events-listener';

const DEFAULT_BATCH = 5000;

/** Where outbox messages go (Kafka, in production: see @netledger/messaging). */
export interface OutboxPublisher {
  /** Publishes the messages in order (per key at least); resolves once the broker acknowledged all. */
  publish(messages: readonly OutboxMessage[]): Promise<void>;
}

export interface OutboxRelayOptions {
  readonly batchSize?: number;
  readonly pollMs?: number;
  /** Advisory lock that makes one relay the active one; the others stand by. */
  readonly lockKey?: number;
  readonly onError?: (error: unknown) => void;
  /** Called after each published batch (metrics). */
  readonly onPublished?: (count: number, oldestCreatedAt: Date | undefined) => void;
}

interface OutboxRow {
  partition: number | null;
  id: string;
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
  created_at: Date;
}

/**
 * Publishes outbox rows in id order and marks them sent. At least once: a crash between publish
 * and mark publishes the batch again (consumers dedupe by event id or position); nothing is lost,
 * and rows are read only below the oldest running transaction, so per-key order is commit order.
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly listener: EventsListener;

  constructor(
    private readonly pool: Pool,
    private readonly publisher: OutboxPublisher,
    private readonly options: OutboxRelayOptions = {},
  ) {
    this.listener = new EventsListener(pool, options.onError);
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.listener.connection();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.listener.wake();
    await this.loop;
    // The listener's session holds the leader lock; ending it lets a standby take over.
    await this.listener.close();
  }

  /** Publishes what is pending now; returns how many messages went out. Exposed for tests and tools. */
  async relayOnce(): Promise<number> {
    const batchSize = this.options.batchSize ?? DEFAULT_BATCH;
    // Rows that reference an event get it as JSON built by PostgreSQL (the shape encodeEventMessage gives).
    const { rows } = await this.pool.query<OutboxRow>(
      `SELECT o.id, o.topic, o.key, o.headers, o.created_at, o.partition,
         coalesce(o.value, json_build_object(
           'eventId', e.event_id, 'type', e.type, 'schemaVersion', e.schema_version, 'data', e.data,
           'metadata', e.metadata, 'position', e.position, 'streamId', e.stream_id,
           'streamVersion', e.stream_version,
           'recordedAt', to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text) AS value
       FROM outbox o LEFT JOIN events e ON e.position = o.event_position
       WHERE o.sent_at IS NULL AND o.${COMMITTED_BEFORE_RUNNING} ORDER BY o.id LIMIT $1`,
      [batchSize],
    );
    if (rows.length === 0) return 0;
    await this.publisher.publish(
      rows.map((r) => ({
        topic: r.topic,
        key: r.key,
        value: r.value,
        headers: r.headers,
        ...(r.partition !== null ? { partition: r.partition } : {}),
      })),
    );
    // NOTE: marked only after the broker acknowledged; a crash in between re-sends the batch.
    await this.pool.query('UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])', [
      rows.map((r) => r.id),
    ]);
    this.options.onPublished?.(rows.length, rows[0]?.created_at);
    return rows.length;
  }

  private async run(): Promise<void> {
    const lockKey = this.options.lockKey ?? 7_460_337_002;
    const pollMs = this.options.pollMs ?? 500;
    // The advisory lock lives in the listener's session: a lost connection is lost leadership.
    let leaderSession: PoolClient | undefined;
    while (this.running) {
      try {
        const session = await this.listener.connection();
        if (leaderSession !== session) {
          leaderSession = undefined;
          const { rows } = await session.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [
            lockKey,
          ]);
          if (rows[0]!.ok) leaderSession = session;
        }
        const leader = leaderSession !== undefined && this.listener.isCurrent(leaderSession);
        if (leader && (await this.relayOnce()) === (this.options.batchSize ?? DEFAULT_BATCH)) continue;
      } catch (error) {
        this.options.onError?.(error);
      }
      if (!this.running) break;
      await this.listener.wait(pollMs);
    }
  }
}
