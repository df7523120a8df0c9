import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, OutboxRelay, PgEventStore, PlanLedger } from '@netledger/event-store';
import { ensureTopics, KafkaOutboxPublisher, PlanSigner, topicNames } from '@netledger/messaging';
import {
  DEFAULT_OVERLAY_CONFIG,
  DEFAULT_PROXY_CONFIG,
  type EndpointSlice,
  type KubeObject,
  type RecordedEvent,
} from '@netledger/model';
import {
  ChangePlanner,
  NetworkPlanner,
  nodeStateOf,
  nodeStatesEqual,
  type PlanBook,
} from '@netledger/planner-core';
import { runService, type RunningService } from '@netledger/service';
import type { Producer } from 'kafkajs';
import { PlannerModule } from '../../apps/planner/src/planner.module';
import { PlannerService } from '../../apps/planner/src/planning/planner.service';
import { planMessagesFromLedger } from '../../apps/planner/src/planning/plan-messages-from-ledger';
import { eventually, TopicReader } from '../support/kafka-reader';
import { nodeStateIn, planFromTopic, testPipeline } from '../support/pipeline';
import { Ingested, streamOf } from '../support/ingested';
import { prng, syntheticCluster } from '../support/synthetic-cluster';

const proxy = { ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.64.0.0/10'] };

/** The from-scratch plan of a set of objects. */
function scratch(objects: Iterable<KubeObject>): NetworkPlanner {
  const planner = new NetworkPlanner(proxy, DEFAULT_OVERLAY_CONFIG);
  for (const o of objects) planner.upsert(o);
  return planner;
}

/**
 * The plan ledger at a few hundred nodes, through the real planner, PostgreSQL and Kafka: after
 * a cluster is taken on and churned in bursts, every node resolved from the ledger (sampled) is
 * its from-scratch plan, now and at past revisions, with the cluster as it was then.
 */
describe('the plan ledger, resolved, equals from-scratch plans now and then', () => {
  let pipeline: Awaited<ReturnType<typeof testPipeline>>;
  let planner: RunningService;
  let store: PgEventStore;
  let producer: Producer;
  let ingested: Ingested;
  const record = async (objects: readonly KubeObject[]): Promise<RecordedEvent[]> => {
    const events = await ingested.record(objects);
    await ingested.publish(events);
    return events;
  };

  beforeAll(async () => {
    pipeline = await testPipeline();
    store = new PgEventStore(createPool(pipeline.db.url));
    const admin = pipeline.kafka.admin();
    await admin.connect();
    await ensureTopics(admin, [
      { name: topicNames(pipeline.env.NETLEDGER_TOPIC_PREFIX).clusterEvents, partitions: 4, config: {} },
    ]);
    await admin.disconnect();
    producer = pipeline.kafka.producer();
    await producer.connect();
    ingested = new Ingested(store, producer, pipeline.topics.clusterEvents);
    // Small batches, a small bound on waiting events (the cluster arrives at once, so the planner
    // pauses its consumer and resumes it), and a checkpoint every five revisions.
    const env = {
      ...pipeline.env,
      CLUSTER_CIDR: '10.64.0.0/10',
      PLAN_CHECKPOINT_EVERY: '5',
      PLANNER_MAX_BATCH_EVENTS: '200',
      PLANNER_MAX_PENDING_EVENTS: '400',
    };
    planner = await runService('planner', 0, () => PlannerModule.forRoot(env), env);
  });
  afterAll(async () => {
    await planner?.stop();
    await producer?.disconnect();
    await store?.pool.end();
    await pipeline?.close();
  });

  it('after a cluster is taken on and churned, now and at every tenth revision', async () => {
    const cluster = syntheticCluster({ nodes: 300, services: 600, endpointsPerService: 5, seed: 11 });
    const current = new Map<string, KubeObject>();
    const history: RecordedEvent[] = [];
    for (const batch of [cluster.nodes, cluster.services, cluster.slices]) {
      for (const o of batch) current.set(streamOf(o), o);
      history.push(...(await record(batch)));
    }
    const random = prng(5);
    const slices = cluster.slices;
    for (let burst = 0; burst < 12; burst++) {
      const changed: EndpointSlice[] = [];
      // Forty different slices a burst (one append per stream and transaction).
      const picked = new Set<number>();
      while (picked.size < 40) picked.add(Math.floor(random() * slices.length));
      for (const [i, index] of [...picked].entries()) {
        const s = slices[index]!;
        const latest = current.get(streamOf(s)) as EndpointSlice;
        const endpoints =
          random() < 0.5 && latest.endpoints.length > 1
            ? latest.endpoints.slice(1)
            : [...latest.endpoints, { ...latest.endpoints[0]!, addresses: [`10.127.${burst}.${i + 1}`] }];
        const next = { ...latest, endpoints };
        current.set(streamOf(next), next);
        changed.push(next);
      }
      history.push(...(await record(changed)));
      await new Promise((r) => setTimeout(r, 30));
    }
    const ledger = new PlanLedger(store);
    // Settled when the planner has folded every stream to the version written last.
    await eventually(
      async () => {
        const { rows } = await store.pool.query<{ stream_id: string; version: string }>(
          'SELECT stream_id, version FROM planner_streams',
        );
        const folded = new Map(rows.map((r) => [r.stream_id, Number(r.version)]));
        return [...ingested.streamVersions()].every(([stream, version]) => folded.get(stream) === version);
      },
      'the planner to fold every change',
      60_000,
    );

    const sample = cluster.nodes.filter((_, i) => i % 23 === 0).map((n) => n.name);
    const expectEqual = (book: PlanBook, planned: NetworkPlanner) => {
      for (const node of sample)
        expect(nodeStatesEqual(nodeStateIn(book, node), nodeStateOf(planned.planNode(node))), node).toBe(
          true,
        );
    };
    const now = await ledger.book();
    expect(now.nodeNames()).toHaveLength(300);
    expect(planner.app.get(PlannerService).pauses).toBeGreaterThan(0);
    expectEqual(now, scratch(current.values()));

    // Every change records the events it folded: the cluster as of revision r is, per object, the
    // newest version among the events folded by then (Kafka's partitions may deliver them out of
    // position order, so the set is taken from the causes, not from a position).
    const changes = await ledger.changes(1);
    expect(changes.map((c) => c.change.revision)).toEqual(changes.map((_, i) => i + 1));
    expect(await ledger.checkpointBefore(now.revision)).toBeGreaterThan(0);
    const foldedIds = new Set<string>();
    let checked = 0;
    for (const c of changes) {
      for (const cause of c.causes) foldedIds.add(cause.eventId);
      if (c.change.revision % 10 !== 0 && c.change.revision !== now.revision) continue;
      const asOf = new Map<string, RecordedEvent>();
      for (const e of history) {
        if (!foldedIds.has(e.eventId)) continue;
        const held = asOf.get(e.streamId);
        if (!held || held.streamVersion < e.streamVersion) asOf.set(e.streamId, e);
      }
      const objects = [...asOf.values()].map((e) => (e.data as { object: KubeObject }).object);
      expectEqual(await ledger.book({ revision: c.change.revision }), scratch(objects));
      checked++;
    }
    expect(checked).toBeGreaterThan(1);
  });

  it('a plan change read back from the outbox (after a crash) is published as the planner would have', async () => {
    const planTopicName = topicNames(pipeline.env.NETLEDGER_TOPIC_PREFIX).plan;
    const planned = new ChangePlanner(
      new NetworkPlanner(proxy, DEFAULT_OVERLAY_CONFIG),
      await new PlanLedger(store).book(),
    );
    for (const o of syntheticCluster({ nodes: 20, services: 30, endpointsPerService: 2, seed: 3 }).services)
      planned.model.upsert(o);
    planned.model.upsert({
      ...syntheticCluster({ nodes: 1, services: 0, endpointsPerService: 0, seed: 1 }).nodes[0]!,
      name: 'late-node',
    });
    const change = planned.commit()!;
    const ledger = new PlanLedger(store);
    // Committed, but the process died before its relay published it.
    await store.transaction(async (c) => {
      const event = await ledger.append(c, change.change, change.fragments, change.causes);
      await store.enqueueEvents(c, [{ topic: planTopicName, key: 'plan', eventPosition: event.position }]);
    });
    const reader = new TopicReader(pipeline.kafka, planTopicName);
    await reader.start();
    const publisher = new KafkaOutboxPublisher(pipeline.kafka);
    const relay = new OutboxRelay(store.pool, publisher, {
      topics: [planTopicName],
      expand: planMessagesFromLedger(
        planTopicName,
        PlanSigner.fromFile(pipeline.keys.PLAN_SIGNING_KEY_FILE),
      )(store.pool),
    });
    try {
      expect(await relay.relayOnce()).toBeGreaterThan(0);
      await eventually(
        () => planFromTopic(reader, pipeline.keys.PLAN_VERIFY_KEYS).revision >= change.change.revision,
        'the change on the topic',
      );
      const fromTopic = planFromTopic(reader, pipeline.keys.PLAN_VERIFY_KEYS);
      expect(
        nodeStatesEqual(nodeStateIn(fromTopic, 'late-node'), nodeStateIn(await ledger.book(), 'late-node')),
      ).toBe(true);
    } finally {
      await publisher.close();
      await reader.stop();
    }
  });
});
