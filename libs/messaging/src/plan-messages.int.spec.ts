import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import { DEFAULT_PROXY_CONFIG } from '@netledger/model';
import { NetworkPlanner, PlanRecorder } from '@netledger/planner-core';
import { testKafka, uniqueSuffix } from '../../../test/support/services';
import { syntheticCluster } from '../../../test/support/synthetic-cluster';
import { KafkaOutboxPublisher } from './kafka-outbox-publisher';
import { encodePlanChange, PlanAssembler, type ReceivedChange } from './plan-messages';
import { ensureTopics, planTopic } from './topics';

describe('a large plan change through the real broker', () => {
  let kafka: Kafka;
  const prefix = `test-${uniqueSuffix()}`;

  beforeAll(async () => {
    kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [planTopic(prefix)]);
    await admin.disconnect();
  });
  afterAll(async () => {
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [planTopic(prefix).name] }).catch(() => undefined);
    await admin.disconnect();
  });

  it('goes out in requests the broker accepts and comes back whole, validated', async () => {
    // A cluster's first change: ~10 MB of parts, more than one produce request may carry.
    const cluster = syntheticCluster({ nodes: 500, services: 1500, endpointsPerService: 4, seed: 4 });
    const model = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.64.0.0/10'] });
    for (const o of [...cluster.nodes, ...cluster.services, ...cluster.slices]) model.upsert(o);
    const recorded = new PlanRecorder().record(model, model.takeChanges())!;
    const topic = planTopic(prefix).name;
    const messages = encodePlanChange(recorded.change, recorded.fragments).map((m) => ({ topic, ...m }));
    expect(messages.reduce((n, m) => n + m.value.length, 0)).toBeGreaterThan(4 * 1024 * 1024);
    const publisher = new KafkaOutboxPublisher(kafka);
    await publisher.publish(messages);
    await publisher.close();

    const consumer = kafka.consumer({ groupId: `test-${uniqueSuffix()}`, maxBytes: 64 * 1024 * 1024 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const assembler = new PlanAssembler('node-42');
    const received = await new Promise<ReceivedChange>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the change did not come back')), 60_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            const whole = assembler.add(message.value);
            if (whole) {
              clearTimeout(timer);
              resolve(whole);
            }
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    expect(received.change.revision).toBe(1);
    expect(received.change.manifests.set.map((m) => m.node)).toEqual(['node-42']);
    expect(received.fragments.size).toBe(recorded.fragments.length);
  });
});
