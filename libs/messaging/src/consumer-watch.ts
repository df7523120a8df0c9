import type { Consumer } from 'kafkajs';

export interface ConsumerWatchOptions {
  /**
   * A consumer that has neither fetched, joined its group nor processed a batch for this long is
   * taken as stopped. It must outlast a healthy pause: a group join (up to the rebalance timeout)
   * and KafkaJS's own retries while a broker is away. See stallTimeout.
   */
  readonly stalledAfterMs: number;
  /** How often to look (default: a quarter of stalledAfterMs, at most 5 s). */
  readonly checkEveryMs?: number;
}

/**
 * A group consumer's timeouts from its session timeout: a rebalance may take as long, and a
 * heartbeat goes at least five times per session.
 */
export function groupTimeouts(sessionTimeoutMs: number) {
  return {
    sessionTimeout: sessionTimeoutMs,
    rebalanceTimeout: sessionTimeoutMs,
    heartbeatInterval: Math.min(3000, Math.floor(sessionTimeoutMs / 5)),
  } as const;
}

/**
 * The stall timeout for a consumer: the configured one, but never less than a session and a
 * rebalance take. A shorter one takes a consumer waiting in a JoinGroup for dead; replacing it
 * adds a member, which makes the group rebalance again: the e2e test saw that turn into a storm.
 */
export function stallTimeout(
  configuredMs: number,
  consumer: { sessionTimeout?: number; rebalanceTimeout?: number },
): number {
  // KafkaJS's defaults.
  const session = consumer.sessionTimeout ?? 30_000;
  const rebalance = consumer.rebalanceTimeout ?? 60_000;
  return Math.max(configuredMs, session + rebalance + 5_000);
}

/** Stops the watch: call it before stopping the consumer on purpose. */
export type Unwatch = () => void;

/**
 * Calls `onStop` once when KafkaJS stops a consumer for good, or leaves it running without
 * fetching. KafkaJS restarts a crashed consumer only for errors it deems retriable (otherwise a
 * CRASH with `restart: false`); and a consumer can also stop fetching with no event at all
 * (tulios/kafkajs#659). The e2e test saw an executor's consumer stop after a broker restart, and
 * its node fall behind for good. Time spent in the handler is not a stall: a slow apply is not a
 * dead consumer.
 */
export function whenConsumerStops(
  consumer: Consumer,
  onStop: (error: Error) => void,
  options: ConsumerWatchOptions,
): Unwatch {
  let watching = true;
  let lastActive = Date.now();
  let inBatch = false;
  const active = () => {
    lastActive = Date.now();
  };

  const unwatch: Unwatch = () => {
    watching = false;
    clearInterval(timer);
    for (const remove of listeners.splice(0)) remove();
  };
  const stopped = (error: Error) => {
    if (!watching) return;
    unwatch();
    onStop(error);
  };

  const { events } = consumer;
  const listeners = [
    consumer.on(events.CRASH, (e) => {
      inBatch = false;
      active();
      if (!e.payload.restart) stopped(e.payload.error);
    }),
    consumer.on(events.FETCH_START, active),
    consumer.on(events.FETCH, active),
    consumer.on(events.GROUP_JOIN, active),
    consumer.on(events.REBALANCING, active),
    consumer.on(events.START_BATCH_PROCESS, () => {
      inBatch = true;
      active();
    }),
    consumer.on(events.END_BATCH_PROCESS, () => {
      inBatch = false;
      active();
    }),
  ];

  const every = options.checkEveryMs ?? Math.min(5000, Math.max(10, options.stalledAfterMs / 4));
  const timer = setInterval(() => {
    const idle = Date.now() - lastActive;
    if (!inBatch && idle > options.stalledAfterMs)
      stopped(new Error(`the consumer has not fetched for ${Math.round(idle / 1000)} s`));
  }, every);
  timer.unref();
  return unwatch;
}

/**
 * Disconnects a consumer, waiting at most `timeoutMs`: one that stalled may never finish its
 * fetch loop, and the caller is about to replace it. Give it a stall timeout's worth: one in a
 * JoinGroup leaves only after the join. Errors are not the caller's concern here.
 */
export async function disconnectWithin(consumer: Consumer | undefined, timeoutMs: number): Promise<void> {
  if (!consumer) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    consumer.disconnect().catch(() => undefined),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
}
