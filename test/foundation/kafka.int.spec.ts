import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin, Consumer, EachMessagePayload, Kafka } from 'kafkajs';
import { ensureTopics, subscribeWhenKnown, type TopicSpec } from '@netledger/messaging';
import { testKafka, uniqueSuffix, uniqueTopic } from '../support/services';

/** Consumes until `count` messages arrived; resolves with them in arrival order. */
async function consumeN(
  consumer: Consumer,
  count: number,
  timeoutMs = 30_000,
): Promise<EachMessagePayload[]> {
  const seen: EachMessagePayload[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`only ${seen.length} of ${count} messages arrived`)),
      timeoutMs,
    );
    consumer
      .run({
        eachMessage: async (payload) => {
          seen.push(payload);
          if (seen.length === count) {
            clearTimeout(timer);
            resolve(seen);
          }
        },
      })
      .catch(reject);
  });
}

describe('Kafka (KafkaJS 2.2.4) against the real broker', () => {
  let kafka: Kafka;
  let admin: Admin;

  beforeAll(async () => {
    kafka = testKafka();
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    await admin?.disconnect();
  });

  it('creates topics, one compacted, and leaves existing ones alone', async () => {
    const compacted = uniqueTopic('snapshots');
    const plain = uniqueTopic('diffs');
    const specs: TopicSpec[] = [
      { name: compacted, partitions: 3, config: { 'cleanup.policy': 'compact' } },
      { name: plain, partitions: 6, config: { 'retention.ms': String(24 * 3600_000) } },
    ];
    expect(await ensureTopics(admin, specs)).toEqual([compacted, plain]);
    expect(await ensureTopics(admin, specs)).toEqual([]);

    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2 /* TOPIC */, name: compacted, configNames: ['cleanup.policy'] }],
    });
    expect(configs.resources[0]!.configEntries[0]!.configValue).toBe('compact');
    const meta = await admin.fetchTopicMetadata({ topics: [plain] });
    expect(meta.topics[0]!.partitions).toHaveLength(6);
  });

  it('returns only once every partition of a new topic has a leader, so a producer can send at once', async () => {
    // Kafka 4 can answer UNKNOWN_TOPIC_OR_PARTITION for a moment after creating a topic (seen
    // most just after the broker starts, which `scripts/demo` exercises).
    const fresh = testKafka();
    const freshAdmin = fresh.admin();
    await freshAdmin.connect();
    const producer = fresh.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      const specs = Array.from({ length: 8 }, (_, i) => ({
        name: uniqueTopic(`ready-${i}`),
        partitions: 8,
        config: {},
      }));
      await Promise.all(specs.map((s) => ensureTopics(freshAdmin, [s])));
      const meta = await freshAdmin.fetchTopicMetadata({ topics: specs.map((s) => s.name) });
      expect(meta.topics.flatMap((t) => t.partitions).every((p) => p.leader >= 0)).toBe(true);
      await producer.send({
        topic: specs[0]!.name,
        messages: Array.from({ length: 8 }, (_, partition) => ({ partition, value: 'x' })),
      });
    } finally {
      await producer.disconnect();
      await freshAdmin.disconnect();
    }
  });

  it('a consumer subscribes to a topic another client creates a moment later, and reads it', async () => {
    const topic = uniqueTopic('late');
    const consumer = kafka.consumer({ groupId: `test-${uniqueSuffix()}`, allowAutoTopicCreation: false });
    await consumer.connect();
    try {
      // The plain subscribe refuses a topic the broker does not know (what stopped the planner).
      await expect(consumer.subscribe({ topic, fromBeginning: true })).rejects.toMatchObject({
        type: 'UNKNOWN_TOPIC_OR_PARTITION',
      });
      const subscribed = subscribeWhenKnown(consumer, { topic, fromBeginning: true });
      await new Promise((r) => setTimeout(r, 1000));
      await ensureTopics(admin, [{ name: topic, partitions: 1, config: {} }]);
      await subscribed;
      const seen = new Promise<string>((resolve) => {
        void consumer.run({ eachMessage: async ({ message }) => resolve(message.value!.toString()) });
      });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: [{ value: 'hello' }] });
      await producer.disconnect();
      expect(await seen).toBe('hello');
    } finally {
      await consumer.disconnect();
    }
  });

  it('an idempotent producer with acks=all delivers every message in order per key to a consumer group', async () => {
    const topic = uniqueTopic('ordered');
    await ensureTopics(admin, [{ name: topic, partitions: 4, config: {} }]);
    const producer = kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
    });
    await producer.connect();
    const keys = ['node-a', 'node-b', 'node-c', 'node-d', 'node-e'];
    const perKey = 40;
    for (let i = 0; i < perKey; i++) {
      await producer.send({
        topic,
        acks: -1,
        messages: keys.map((key) => ({ key, value: JSON.stringify({ key, seq: i }) })),
      });
    }
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `test-group-${uniqueSuffix()}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const messages = await consumeN(consumer, keys.length * perKey);
    await consumer.disconnect();

    const byKey = new Map<string, number[]>();
    for (const { message } of messages) {
      const { key, seq } = JSON.parse(message.value!.toString()) as { key: string; seq: number };
      expect(message.key!.toString()).toBe(key);
      byKey.set(key, [...(byKey.get(key) ?? []), seq]);
    }
    for (const key of keys) {
      expect(byKey.get(key)).toEqual(Array.from({ length: perKey }, (_, i) => i));
    }
  });

  it('consumer-group offsets survive a consumer restart', async () => {
    const topic = uniqueTopic('offsets');
    const groupId = `test-group-${uniqueSuffix()}`;
    await ensureTopics(admin, [{ name: topic, partitions: 2, config: {} }]);
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const send = (from: number, to: number) =>
      producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: to - from }, (_, i) => ({
          key: `k${(from + i) % 2}`,
          value: String(from + i),
        })),
      });

    await send(0, 10);
    const first = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await first.connect();
    await first.subscribe({ topic, fromBeginning: true });
    const firstBatch = await consumeN(first, 10);
    await first.disconnect(); // commits what it processed

    await send(10, 16);
    const second = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
    await second.connect();
    await second.subscribe({ topic, fromBeginning: true });
    const secondBatch = await consumeN(second, 6);
    // Nothing more arrives: the restarted member resumed from the committed offsets.
    await new Promise((r) => setTimeout(r, 1_000));
    await second.disconnect();
    await producer.disconnect();

    const values = (batch: EachMessagePayload[]) =>
      batch.map((m) => Number(m.message.value!.toString())).sort((a, b) => a - b);
    expect(values(firstBatch)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(values(secondBatch)).toEqual([10, 11, 12, 13, 14, 15]);
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    // A partition that got no message has no committed offset (-1).
    const committed = offsets[0]!.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
    expect(committed).toBe(16);
  });
});
