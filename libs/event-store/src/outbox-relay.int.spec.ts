import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { ensureTopics, KafkaOutboxPublisher } from '@netledger/messaging';
import { createPool } from './pool';
import { migrate } from './migrations';
import { PgEventStore, type OutboxMessage } from './event-store';
import { OutboxRelay, type OutboxPublisher } from './outbox-relay';
import { createTestDatabase, testKafka, uniqueSuffix, uniqueTopic } from '../../../test/support/services';

/** Reads a topic from the beginning until `count` messages or the timeout; returns [key, value] pairs. */
async function readTopic(
  kafka: Kafka,
  topic: string,
  count: number,
  timeoutMs = 20_000,
): Promise<[string, string][]> {
  const consumer = kafka.consumer({ groupId: `test-${uniqueSuffix()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen: [string, string][] = [];
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    void consumer.run({
      eachMessage: async ({ message }) => {
        seen.push([message.key!.toString(), message.value!.toString()]);
        if (seen.length >= count) {
          clearTimeout(timer);
          setTimeout(resolve, 300); // let stragglers (duplicates) arrive
        }
      },
    });
  });
  await consumer.disconnect();
  return seen;
}

/** For each key, the values in arrival order with repeats dropped. */
function byKey(messages: [string, string][]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [key, value] of messages) {
    const list = out.get(key) ?? [];
    if (!list.includes(value)) list.push(value);
    out.set(key, list);
  }
  return out;
}

describe('transactional outbox relay', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let store: PgEventStore;
  let kafka: Kafka;
  let admin: Admin;
  let publisher: KafkaOutboxPublisher;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url);
    await migrate(pool);
    store = new PgEventStore(pool);
    kafka = testKafka();
    admin = kafka.admin();
    await admin.connect();
    publisher = new KafkaOutboxPublisher(kafka);
  });
  afterAll(async () => {
    await publisher?.close();
    await admin?.disconnect();
    await pool?.end();
    await db?.drop();
  });

  async function appendWithMessages(topic: string, keys: string[], perKey: number): Promise<void> {
    for (let i = 0; i < perKey; i++) {
      for (const key of keys) {
        const message: OutboxMessage = { topic, key, value: `${key}#${i}` };
        await store.append(
          `outbox-test/${key}`,
          'any',
          [{ eventId: randomUUID(), type: 'T', schemaVersion: 1, data: {}, metadata: {} }],
          [message],
        );
      }
    }
  }

  /** Outbox rows of the topic not yet marked sent. */
  async function unsent(topic: string): Promise<number> {
    const { rows } = await pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM outbox WHERE sent_at IS NULL AND topic = $1',
      [topic],
    );
    return rows[0]!.n;
  }

  it('publishes every message in order per key, and marks them sent', async () => {
    const topic = uniqueTopic('outbox');
    await ensureTopics(admin, [{ name: topic, partitions: 3, config: {} }]);
    await appendWithMessages(topic, ['node-a', 'node-b', 'node-c', 'node-d'], 25);
    const relay = new OutboxRelay(pool, publisher, { batchSize: 37, pollMs: 50 });
    await relay.start();
    const messages = await readTopic(kafka, topic, 100);
    await relay.stop();
    const keys = byKey(messages);
    for (const key of ['node-a', 'node-b', 'node-c', 'node-d'])
      expect(keys.get(key)).toEqual(Array.from({ length: 25 }, (_, i) => `${key}#${i}`));
    expect(await unsent(topic)).toBe(0);
  });

  it('loses nothing when the relay dies mid-batch or between publishing and marking', async () => {
    const topic = uniqueTopic('outbox-crash');
    await ensureTopics(admin, [{ name: topic, partitions: 2, config: {} }]);
    await appendWithMessages(topic, ['k1', 'k2', 'k3'], 20);

    // Dies after handing half a batch to Kafka.
    const halfThenDie: OutboxPublisher = {
      publish: async (messages) => {
        await publisher.publish(messages.slice(0, Math.floor(messages.length / 2)));
        throw new Error('killed mid-batch');
      },
    };
    await expect(new OutboxRelay(pool, halfThenDie, { batchSize: 16 }).relayOnce()).rejects.toThrow(
      'killed mid-batch',
    );
    // Dies after Kafka acknowledged the whole batch, before marking it sent.
    const publishThenDie: OutboxPublisher = {
      publish: async (messages) => {
        await publisher.publish(messages);
        throw new Error('killed before marking');
      },
    };
    await expect(new OutboxRelay(pool, publishThenDie, { batchSize: 16 }).relayOnce()).rejects.toThrow(
      'killed before marking',
    );

    const relay = new OutboxRelay(pool, publisher, { batchSize: 16, pollMs: 50 });
    await relay.start();
    const messages = await readTopic(kafka, topic, 60 + 8 + 16);
    await relay.stop();
    const keys = byKey(messages);
    for (const key of ['k1', 'k2', 'k3'])
      expect(keys.get(key)).toEqual(Array.from({ length: 20 }, (_, i) => `${key}#${i}`));
    expect(messages.length).toBeGreaterThan(60); // at least once: the crashed batches came again
  });

  it('keeps relaying after the server drops its connection, taking the leader lock again', async () => {
    const topic = uniqueTopic('outbox-dropped');
    await ensureTopics(admin, [{ name: topic, partitions: 1, config: {} }]);
    const relay = new OutboxRelay(pool, publisher, { pollMs: 30, onError: () => undefined });
    await relay.start();
    await appendWithMessages(topic, ['before'], 3);
    // What a restart or failover does: every other session of the database ends.
    await pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    await appendWithMessages(topic, ['after'], 3);
    const seen = await readTopic(kafka, topic, 6);
    await relay.stop();
    expect(byKey(seen).get('before')).toEqual(['before#0', 'before#1', 'before#2']);
    expect(byKey(seen).get('after')).toEqual(['after#0', 'after#1', 'after#2']);
  });

  it('one relay is active at a time; the other stands by', async () => {
    const topic = uniqueTopic('outbox-leader');
    await ensureTopics(admin, [{ name: topic, partitions: 1, config: {} }]);
    const published: number[] = [];
    const counting = (id: number): OutboxPublisher => ({
      publish: async (messages) => {
        published.push(...messages.map(() => id));
        await publisher.publish(messages);
      },
    });
    const a = new OutboxRelay(pool, counting(1), { pollMs: 30 });
    const b = new OutboxRelay(pool, counting(2), { pollMs: 30 });
    await a.start();
    await new Promise((r) => setTimeout(r, 100));
    await b.start();
    await appendWithMessages(topic, ['x'], 10);
    await readTopic(kafka, topic, 10);
    await Promise.all([a.stop(), b.stop()]);
    expect(published.length).toBeGreaterThanOrEqual(10);
    expect(new Set(published)).toEqual(new Set([1]));
  });

  it('publishes offered rows without waiting for a read, after any older unsent row, and once', async () => {
    const topic = uniqueTopic('outbox-offers');
    await ensureTopics(admin, [{ name: topic, partitions: 1, config: {} }]);
    const batches: string[][] = [];
    const recording: OutboxPublisher = {
      publish: async (messages) => {
        batches.push(messages.map((m) => m.value));
        await publisher.publish(messages);
      },
    };
    // A timed read only every 60 s: whatever arrives sooner came through an offer.
    const relay = new OutboxRelay(pool, recording, { topics: [topic], offers: true, pollMs: 60_000 });
    await relay.start();
    await new Promise((r) => setTimeout(r, 300));
    const write = (values: string[]) =>
      store.transaction((client) =>
        store.enqueue(
          client,
          values.map((value) => ({ topic, key: 'k', value })),
        ),
      );
    const offer = (ids: string[], values: string[]) =>
      relay.offer(ids.map((id, i) => ({ id, message: { topic, key: 'k', value: values[i]! } })));

    await write(['a0', 'a1']); // a predecessor's rows, never offered
    const b = ['b0', 'b1'];
    offer(await write(b), b);
    while (batches.length === 0) await new Promise((r) => setTimeout(r, 10));
    const c = ['c0', 'c1', 'c2'];
    const cIds = await write(c);
    const seen = readTopic(kafka, topic, 7, 5000);
    offer(cIds, c);
    await new Promise((r) => setTimeout(r, 500));
    offer(cIds, c); // offered again after it went out: nothing more is sent
    const messages = await seen;
    await relay.stop();

    expect(messages.map(([, value]) => value)).toEqual(['a0', 'a1', 'b0', 'b1', 'c0', 'c1', 'c2']);
    expect(batches).toEqual([
      ['a0', 'a1', 'b0', 'b1'],
      ['c0', 'c1', 'c2'],
    ]);
    expect(await unsent(topic)).toBe(0);
  });

  it('with offers, still publishes rows of a second writer that commits a lower id late', async () => {
    const topic = uniqueTopic('outbox-late');
    await ensureTopics(admin, [{ name: topic, partitions: 1, config: {} }]);
    const relay = new OutboxRelay(pool, publisher, { topics: [topic], offers: true, pollMs: 20 });
    await relay.start();
    const late = await pool.connect();
    try {
      // The late writer takes its ids first and commits last.
      await late.query('BEGIN');
      await store.enqueue(late, [{ topic, key: 'k', value: 'late' }]);
      const ids = await store.transaction((c) => store.enqueue(c, [{ topic, key: 'k', value: 'early' }]));
      relay.offer([{ id: ids[0]!, message: { topic, key: 'k', value: 'early' } }]);
      await new Promise((r) => setTimeout(r, 300));
      await late.query('COMMIT');
    } finally {
      late.release();
    }
    const seen = await readTopic(kafka, topic, 2, 10_000);
    await relay.stop();
    expect(seen.map(([, value]) => value).sort()).toEqual(['early', 'late']);
  });

  it("publishes one message per event of a range row, keyed by stream name, without other transactions' events", async () => {
    const topic = uniqueTopic('outbox-range');
    await ensureTopics(admin, [{ name: topic, partitions: 2, config: {} }]);
    const event = (n: string) => ({
      eventId: randomUUID(),
      type: 'T',
      schemaVersion: 1,
      data: { n },
      metadata: {},
    });
    const suffix = uniqueSuffix();
    const writer = await pool.connect();
    const other = await pool.connect();
    try {
      await writer.query('BEGIN');
      await other.query('BEGIN');
      const first = await store.appendToStreams(writer, [
        { streamId: `range/a-${suffix}`, expected: 0, events: [event('a')] },
      ]);
      // Another transaction's event lands between the writer's positions. The store's appends
      // cannot interleave (they take the append lock), so this one is written past the store: the
      // relay must not rely on every writer being well behaved.
      await other.query(
        `INSERT INTO events (event_id, stream_id, stream_version, type, schema_version, data, metadata)
         VALUES ($1, $2, 1, 'T', 1, '{"n":"x"}', '{}')`,
        [randomUUID(), `range/x-${suffix}`],
      );
      const rest = await store.appendToStreams(writer, [
        { streamId: `range/b-${suffix}`, expected: 0, events: [event('b')] },
        { streamId: `range/c-${suffix}`, expected: 0, events: [event('c')] },
      ]);
      await store.enqueueEventRange(writer, {
        topic,
        firstPosition: first[0]!.position,
        lastPosition: rest.at(-1)!.position,
      });
      await other.query('COMMIT');
      await writer.query('COMMIT');
    } finally {
      writer.release();
      other.release();
    }
    const relay = new OutboxRelay(pool, publisher, { topics: [topic], pollMs: 50 });
    await relay.start();
    const seen = await readTopic(kafka, topic, 3, 10_000);
    await relay.stop();
    expect(
      seen.map(([key, value]) => [key, (JSON.parse(value) as { data: { n: string } }).data.n]).sort(),
    ).toEqual([
      [`a-${suffix}`, 'a'],
      [`b-${suffix}`, 'b'],
      [`c-${suffix}`, 'c'],
    ]);
  });
});
