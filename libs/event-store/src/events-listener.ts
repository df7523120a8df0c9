import type { Pool, PoolClient } from 'pg';
import { EVENTS_CHANNEL } from './event-store';

interface Held {
  readonly client: PoolClient;
  /** Gives the connection back to the pool, destroyed; safe to call more than once. */
  readonly drop: (error?: Error) => void;
}

/**
 * A dedicated connection that LISTENs for new events. When the server drops it (a restart, a
 * failover, an administrator), it is forgotten, not fatal: the next `connection()` makes a new
 * one, and the owner is woken so it can notice.
 */
export class EventsListener {
  private held: Held | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly wake: () => void,
    private readonly onError?: (error: unknown) => void,
  ) {}

  /** The live connection, listening; connects (again) when there is none. */
  async connection(): Promise<PoolClient> {
    if (this.held) return this.held.client;
    const client = await this.pool.connect();
    let released = false;
    const held: Held = {
      client,
      drop: (error) => {
        if (this.held === held) this.held = undefined;
        if (released) return;
        released = true;
        client.release(error ?? true);
      },
    };
    client.on('error', (error) => {
      held.drop(error);
      this.onError?.(error);
      this.wake();
    });
    client.on('notification', () => this.wake());
    try {
      await client.query(`LISTEN ${EVENTS_CHANNEL}`);
    } catch (error) {
      held.drop(error as Error);
      throw error;
    }
    this.held = held;
    return client;
  }

  /** Whether `client` is still the live connection (session state such as locks lives only with it). */
  isCurrent(client: PoolClient): boolean {
    return this.held?.client === client;
  }

  async close(): Promise<void> {
    const held = this.held;
    if (!held) return;
    await held.client.query(`UNLISTEN ${EVENTS_CHANNEL}`).catch(() => undefined);
    held.drop();
  }
}
