import type { Pool, PoolClient } from 'pg';
import { EVENTS_CHANNEL } from './event-store';

interface Held {
  readonly client: PoolClient;
  /** Gives the connection back to the pool, destroyed; safe to call more than once. */
  readonly drop: (error?: Error) => void;
}

/**
 * A dedicated connection that LISTENs for new events, and the wait between reads that a
 * notification cuts short. When the server drops the connection (a restart, a failover, an
 * administrator), it is forgotten, not fatal: the waiter is woken and the next `connection()`
 * makes a new one.
 */
export class EventsListener {
  private held: Held | undefined;
  private wakeWaiter: (() => void) | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly onError?: (error: unknown) => void,
    /** false: a session (for its locks) and the timed wait, without notifications. */
    private readonly listen = true,
  ) {}

  /** Waits up to `ms`, less if an event is notified or `wake()` is called. */
  async wait(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wakeWaiter = undefined;
  }

  /** Ends the current wait now (new events, a lost connection, or the owner stopping). */
  wake(): void {
    this.wakeWaiter?.();
  }

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
    // A connection the server ends while a query runs fails that query and then ends, without an
    // 'error' event: held on, the client answered "not queryable" to every later query, and the
    // relay never recovered (seen in the test that cuts every connection of the database).
    client.on('end', () => {
      held.drop(new Error('the connection ended'));
      this.wake();
    });
    if (this.listen) client.on('notification', () => this.wake());
    try {
      if (this.listen) await client.query(`LISTEN ${EVENTS_CHANNEL}`);
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
    if (this.listen) await held.client.query(`UNLISTEN ${EVENTS_CHANNEL}`).catch(() => undefined);
    held.drop();
  }
}
