import { EventEmitter } from 'node:events';
import type { Consumer } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { stallTimeout, whenConsumerStops } from './consumer-watch';

/** The instrumentation side of a KafkaJS consumer: its event names, `on`, and a way to emit. */
function fakeConsumer() {
  const emitter = new EventEmitter();
  const events = {
    CRASH: 'consumer.crash',
    FETCH_START: 'consumer.fetch_start',
    FETCH: 'consumer.fetch',
    GROUP_JOIN: 'consumer.group_join',
    REBALANCING: 'consumer.rebalancing',
    START_BATCH_PROCESS: 'consumer.start_batch_process',
    END_BATCH_PROCESS: 'consumer.end_batch_process',
  };
  const consumer = {
    events,
    on: (event: string, listener: (e: unknown) => void) => {
      emitter.on(event, listener);
      return () => emitter.off(event, listener);
    },
  } as unknown as Consumer;
  const emit = (event: keyof typeof events, payload: Record<string, unknown> = {}) =>
    emitter.emit(events[event], { payload });
  return { consumer, emit, listening: () => emitter.eventNames().length };
}

describe('whenConsumerStops', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('reports a crash KafkaJS will not restart, but not one it will', () => {
    const { consumer, emit } = fakeConsumer();
    const stops: Error[] = [];
    whenConsumerStops(consumer, (e) => stops.push(e), { stalledAfterMs: 60_000 });
    emit('CRASH', { error: new Error('retriable'), restart: true });
    expect(stops).toEqual([]);
    emit('CRASH', { error: new Error('coordinator not found'), restart: false });
    expect(stops.map((e) => e.message)).toEqual(['coordinator not found']);
  });

  it('reports a consumer that stopped fetching, once, and stops listening', () => {
    const { consumer, emit, listening } = fakeConsumer();
    const stops: Error[] = [];
    whenConsumerStops(consumer, (e) => stops.push(e), { stalledAfterMs: 10_000 });
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(5_000);
      emit('FETCH_START');
    }
    expect(stops).toEqual([]);
    vi.advanceTimersByTime(15_000);
    expect(stops).toHaveLength(1);
    expect(stops[0]!.message).toMatch(/has not fetched for 1\d s/);
    expect(listening()).toBe(0);
    emit('CRASH', { error: new Error('later'), restart: false });
    vi.advanceTimersByTime(60_000);
    expect(stops).toHaveLength(1);
  });

  it('does not take a slow handler for a stalled consumer', () => {
    const { consumer, emit } = fakeConsumer();
    const stops: Error[] = [];
    whenConsumerStops(consumer, (e) => stops.push(e), { stalledAfterMs: 10_000 });
    emit('START_BATCH_PROCESS');
    vi.advanceTimersByTime(60_000);
    expect(stops).toEqual([]);
    emit('END_BATCH_PROCESS');
    vi.advanceTimersByTime(15_000);
    expect(stops).toHaveLength(1);
  });

  it('allows at least a session and a rebalance before calling a consumer stalled', () => {
    expect(stallTimeout(20_000, {})).toBe(95_000);
    expect(stallTimeout(20_000, { sessionTimeout: 6000, rebalanceTimeout: 6000 })).toBe(20_000);
    expect(stallTimeout(5_000, { sessionTimeout: 6000, rebalanceTimeout: 6000 })).toBe(17_000);
  });

  it('says nothing once unwatched (the consumer was stopped on purpose)', () => {
    const { consumer, emit } = fakeConsumer();
    const stops: Error[] = [];
    const unwatch = whenConsumerStops(consumer, (e) => stops.push(e), { stalledAfterMs: 10_000 });
    unwatch();
    vi.advanceTimersByTime(60_000);
    emit('CRASH', { error: new Error('after stop'), restart: false });
    expect(stops).toEqual([]);
  });
});
