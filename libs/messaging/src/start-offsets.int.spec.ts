import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { testKafka, uniqueSuffix } from '../../../test/support/services';
import { startAtOffsets } from './start-offsets';
import { ensureTopics } from './topics';

describe('a consumer started at offsets kept outside Kafka (real broker)', () => {
  let kafka: Kafka;
  const topic = `test-${uniqueSuffix()}.offsets`;

  beforeAll(async () => {
    kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [{ name: topic, partitions: 2, config: {} }]);
    await admin.disconnect();
    const producer = kafka.producer();
    await producer.connect();
    for (const partition of [0, 1])
      await producer.send({
        topic,
        messages: Array.from({ length: 5 }, (_, i) => ({ partition, value: `${partition}:${i}` })),
      });
    await producer.disconnect();
  });
  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('reads each partition from its stored offset, in a new group, without a wait for a fetch', async () => {
    const consumer = kafka.consumer({ groupId: `test-${uniqueSuffix()}`, maxWaitTimeInMs: 50 });
    startAtOffsets(consumer, topic, [
      { partition: 0, offset: '3' },
      { partition: 1, offset: '1' },
    ]);
    const started = performance.now();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${seen.join(', ')} came`)), 30_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            seen.push(message.value!.toString());
            if (seen.length === 6) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    const tookMs = performance.now() - started;
    await consumer.disconnect();
    expect(seen.sort()).toEqual(['0:3', '0:4', '1:1', '1:2', '1:3', '1:4']);
    // admin.setOffsets alone took 5 s here.
    expect(tookMs).toBeLessThan(4000);
  });
});
