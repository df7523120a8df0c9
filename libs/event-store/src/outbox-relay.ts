import type { Client, Pool } from 'pg';
import { COMMITTED_BEFORE_RUNNING, EVENTS_CHANNEL, type OutboxMessage } from './event-store';

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
  private wake: (() => void) | undefined;
  private client: (Client & { release(): void }) | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly publisher: OutboxPublisher,
    private readonly options: OutboxRelayOptions = {},
  ) {}

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.client = (await this.pool.connect()) as Client & { release(): void };
    this.client.on('notification', () => this.wake?.());
    await this.client.query(`LISTEN ${EVENTS_CHANNEL}`);
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    if (this.client) {
      await this.client.query('SELECT pg_advisory_unlock_all()').catch(() => undefined);
      this.client.release();
      this.client = undefined;
    }
  }

  /** Publishes what is pending now; returns how many messages went out. Exposed for tests and tools. */
  async relayOnce(): Promise<number> {
    const batchSize = this.options.batchSize ?? 500;
    const { rows } = await this.pool.query<OutboxRow>(
      `SELECT id, topic, key, value, headers, created_at FROM outbox
       WHERE sent_at IS NULL AND ${COMMITTED_BEFORE_RUNNING} ORDER BY id LIMIT $1`,
      [batchSize],
    );
    if (rows.length === 0) return 0;
    await this.publisher.publish(
      rows.map((r) => ({ topic: r.topic, key: r.key, value: r.value, headers: r.headers })),
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
    let leader = false;
    while (this.running) {
      try {
        if (!leader) {
          const { rows } = await this.client!.query<{ ok: boolean }>(
            'SELECT pg_try_advisory_lock($1) AS ok',
            [lockKey],
          );
          leader = rows[0]!.ok;
        }
        if (leader && (await this.relayOnce()) === (this.options.batchSize ?? 500)) continue;
      } catch (error) {
        this.options.onError?.(error);
      }
      if (!this.running) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }
}
