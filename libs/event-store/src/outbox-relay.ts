import type { Pool, PoolClient } from 'pg';
import { COMMITTED_BEFORE_RUNNING, streamName, type OutboxMessage } from './event-store';
import { EventsListener } from './events-listener';

const DEFAULT_BATCH = 5000;
const FULL_READ_EVERY = 30;

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
  /** Relays only rows for these topics (a process relays what it writes); all rows when absent. */
  readonly topics?: readonly string[];
  /**
   * The writer in this process offers every row it commits (see `offer`): notifications then do
   * not trigger reads, and the table is read every `pollMs` for anything an offer did not cover.
   */
  readonly offers?: boolean;
  readonly onError?: (error: unknown) => void;
  /**
   * Turns messages read from the table into what is published (offered rows are published as
   * offered): a row may reference an event from which its process builds several messages.
   */
  readonly expand?: (messages: OutboxMessage[]) => Promise<OutboxMessage[]>;
  /** Called after each published batch (metrics). */
  readonly onPublished?: (count: number, oldestCreatedAt: Date | undefined) => void;
}

/** A committed outbox row, handed to the relay by the process that wrote it. */
export interface OfferedOutboxRow {
  readonly id: string;
  readonly message: OutboxMessage;
}

interface OutboxRow {
  partition: number | null;
  id: string;
  topic: string;
  key: string;
  value: string | null;
  headers: Record<string, string>;
  created_at: Date;
  event_position: string | null;
  event_position_last: string | null;
  transaction_id: string;
}

/** A recorded event as message JSON, built by PostgreSQL (the shape encodeEventMessage gives). */
const EVENT_JSON = `json_build_object(
  'eventId', e.event_id, 'type', e.type, 'schemaVersion', e.schema_version, 'data', e.data,
  'metadata', e.metadata, 'position', e.position, 'streamId', e.stream_id,
  'streamVersion', e.stream_version,
  'recordedAt', to_char(e.recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text`;

/**
 * Publishes outbox rows in id order and deletes them once sent. At least once: a crash between publish
 * and mark publishes the batch again (consumers dedupe by event id or position); nothing is lost,
 * and rows are read only below the oldest running transaction, so per-key order is commit order.
 *
 * A writer may `offer` the rows it has just committed: when no older row is unsent, the relay
 * publishes them from memory instead of reading them back (the planner's latency path). The table
 * stays the truth: an offer the relay cannot use is dropped and the rows are read as usual. The
 * writer's commits must be serialised, so that outbox id order is commit order and per-key order
 * holds: rows written after an event append are (PgEventStore's append lock). In this mode notifications are not
 * listened to: a relay that is not in the writer's process (a standby that took over) reads the
 * table every pollMs.
 */
export class OutboxRelay {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly listener: EventsListener;
  private offered: OfferedOutboxRow[] = [];
  /** The highest id this relay published: an offer can come after a timed read already sent it. */
  private lastSentId = 0n;
  private reads = 0;
  /** The last table read left rows for the next one. */
  private morePending = false;

  constructor(
    private readonly pool: Pool,
    private readonly publisher: OutboxPublisher,
    private readonly options: OutboxRelayOptions = {},
  ) {
    this.listener = new EventsListener(pool, options.onError, !options.offers);
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

  /** Rows just committed by this process, so the relay need not read them back. */
  offer(rows: readonly OfferedOutboxRow[]): void {
    if (!this.running || rows.length === 0) return;
    for (const row of rows) this.offered.push(row);
    this.listener.wake();
  }

  /** Publishes what is pending now; returns how many messages went out. Exposed for tests and tools. */
  async relayOnce(): Promise<number> {
    // A range row's messages share its id: the rows to check and mark are the distinct ids.
    const offered: OfferedOutboxRow[] = [];
    const rows = new Set<bigint>();
    for (const r of this.offered) {
      const id = BigInt(r.id);
      if (id <= this.lastSentId) continue;
      offered.push(r);
      rows.add(id);
    }
    this.offered = [];
    const ids = [...rows].sort((a, b) => (a < b ? -1 : 1));
    if (offered.length > 0 && (await this.nothingUnsentBefore(ids[0]!))) {
      await this.publisher.publish(offered.map((r) => r.message));
      await this.markSent(ids.map(String));
      this.sent(ids.at(-1)!);
      this.options.onPublished?.(offered.length, undefined);
      this.morePending = false;
      return offered.length;
    }
    return this.relayFromTable();
  }

  /**
   * Whether every row before `id` has gone out. Only the range after the last row this relay sent
   * is scanned: the unsent-rows index keeps entries of sent rows until a vacuum, and one planner
   * batch leaves thousands of them.
   */
  private async nothingUnsentBefore(id: bigint): Promise<boolean> {
    const params: unknown[] = [String(this.lastSentId), String(id)];
    const { rows } = await this.pool.query(
      `SELECT 1 FROM outbox WHERE sent_at IS NULL AND id > $1 AND id < $2 ${this.topicCondition('topic', params)} LIMIT 1`,
      params,
    );
    return rows.length === 0;
  }

  /** The condition restricting rows to this relay's topics, its value appended to `params`. */
  private topicCondition(column: string, params: unknown[]): string {
    if (!this.options.topics) return '';
    params.push(this.options.topics);
    return `AND ${column} = ANY($${params.length}::text[])`;
  }

  private sent(id: bigint): void {
    if (id > this.lastSentId) this.lastSentId = id;
  }

  /** Sent rows are deleted: the outbox holds what is still to go, not a second copy of the log. */
  private async markSent(ids: readonly string[]): Promise<void> {
    await this.pool.query('DELETE FROM outbox WHERE id = ANY($1::bigint[])', [ids]);
  }

  private async relayFromTable(): Promise<number> {
    const batchSize = this.options.batchSize ?? DEFAULT_BATCH;
    // Rows that reference an event get it as JSON built by PostgreSQL; range rows are expanded below.
    const params: unknown[] = [batchSize];
    // With one writer offering its rows (its commits serialised, so id order is commit order),
    // nothing before the last row sent is still unsent; starting there skips the index entries
    // that sent rows leave until a vacuum. Every FULL_READ_EVERY-th read looks at all rows anyway,
    // should a second writer ever have committed a lower id late.
    this.reads++;
    const after =
      this.options.offers && this.reads % FULL_READ_EVERY !== 0 ? `AND o.id > ${this.lastSentId}` : '';
    const { rows } = await this.pool.query<OutboxRow>(
      `SELECT o.id, o.topic, o.key, o.headers, o.created_at, o.partition, o.event_position,
         o.event_position_last, o.transaction_id::text AS transaction_id,
         coalesce(o.value, CASE WHEN e.position IS NOT NULL THEN ${EVENT_JSON} END) AS value
       FROM outbox o LEFT JOIN events e ON e.position = o.event_position AND o.event_position_last IS NULL
       WHERE o.sent_at IS NULL AND o.${COMMITTED_BEFORE_RUNNING} ${after} ${this.topicCondition('o.topic', params)}
       ORDER BY o.id LIMIT $1`,
      params,
    );
    this.morePending = rows.length === batchSize;
    if (rows.length === 0) return 0;
    // Rows are taken whole, in order, until the batch is full (a range row can bring thousands).
    const messages: OutboxMessage[] = [];
    const taken: OutboxRow[] = [];
    for (const r of rows) {
      if (taken.length > 0 && messages.length >= batchSize) {
        this.morePending = true;
        break;
      }
      taken.push(r);
      const base = {
        topic: r.topic,
        headers: r.headers,
        ...(r.partition !== null ? { partition: r.partition } : {}),
      };
      if (r.event_position_last === null) {
        messages.push({ ...base, key: r.key, value: r.value! });
        continue;
      }
      const events = await this.pool.query<{ stream_id: string; value: string }>(
        `SELECT e.stream_id, ${EVENT_JSON} AS value FROM events e
         WHERE e.position BETWEEN $1 AND $2 AND e.transaction_id = $3::xid8 ORDER BY e.position`,
        [r.event_position, r.event_position_last, r.transaction_id],
      );
      for (const e of events.rows) messages.push({ ...base, key: streamName(e.stream_id), value: e.value });
    }
    await this.publisher.publish(this.options.expand ? await this.options.expand(messages) : messages);
    // NOTE: marked only after the broker acknowledged; a crash in between re-sends the batch.
    await this.markSent(taken.map((r) => r.id));
    this.sent(BigInt(taken.at(-1)!.id));
    this.options.onPublished?.(messages.length, taken[0]?.created_at);
    return messages.length;
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
        // A standby leaves the rows to the leader, which reads them from the table.
        if (!leader) this.offered = [];
        if (leader && (await this.relayOnce()) > 0 && this.morePending) continue;
        if (leader && this.offered.length > 0) continue;
      } catch (error) {
        this.options.onError?.(error);
      }
      if (!this.running) break;
      await this.listener.wait(pollMs);
    }
  }
}
