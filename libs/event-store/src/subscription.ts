import type { RecordedEvent } from '@netledger/model';
import type { PgEventStore } from './event-store';
import { EventsListener } from './events-listener';

export interface SubscriptionOptions {
  /** Position after which to start (0: from the beginning). */
  readonly from: number;
  readonly batchSize?: number;
  /** Re-read at least this often even without a notification (a blocked reader waits for older transactions). */
  readonly pollMs?: number;
  readonly types?: readonly string[];
  /** Handles one batch in position order; the subscription moves on only when it resolves. */
  readonly handle: (events: readonly RecordedEvent[]) => Promise<void>;
  readonly onError?: (error: unknown) => void;
}

/**
 * Catches up from a position, then follows new events: LISTEN/NOTIFY wakes it, the position keeps
 * it exact (it reads only what no running transaction can still precede, so nothing is skipped).
 */
export class EventSubscription {
  private position: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly listener: EventsListener;

  constructor(
    private readonly store: PgEventStore,
    private readonly options: SubscriptionOptions,
  ) {
    this.position = options.from;
    this.listener = new EventsListener(store.pool, options.onError);
  }

  /** The position of the last event handled. */
  get lastPosition(): number {
    return this.position;
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
    await this.listener.close();
  }

  private async run(): Promise<void> {
    const batchSize = this.options.batchSize ?? 1000;
    const pollMs = this.options.pollMs ?? 500;
    while (this.running) {
      try {
        // Listening again first, after a lost connection, so no notification falls in between.
        await this.listener.connection();
        const events = await this.store.readAll(
          this.position,
          batchSize,
          this.options.types ? { types: this.options.types } : undefined,
        );
        if (events.length > 0) {
          await this.options.handle(events);
          this.position = events.at(-1)!.position;
          if (events.length === batchSize) continue;
        }
      } catch (error) {
        this.options.onError?.(error);
      }
      if (!this.running) break;
      await this.listener.wait(pollMs);
    }
  }
}
