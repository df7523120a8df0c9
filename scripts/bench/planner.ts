import { randomUUID } from 'node:crypto';
import { createPool, EVENT_STORE_MIGRATIONS, migrate, PgEventStore } from '@netledger/event-store';
import {
  createKafka,
  decodeEventMessage,
  encodeEventMessage,
  ensureTopics,
  isDiffBodyKey,
  parseBrokers,
  topicNames,
} from '@netledger/messaging';
import {
  kubeStreamId,
  NODE_STATE_CHANGED,
  nodeStreamId,
  type EndpointSlice,
  type NodeStateChanged,
} from '@netledger/model';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { PLANNER_MIGRATIONS } from '../../apps/planner/src/planner.migrations';
import { syntheticCluster } from '../../test/support/synthetic-cluster';
import { benchDatabase } from './database';

/** Enough changes that p99 is not simply the slowest one (BENCH_PLANNER_SAMPLES for a longer run). */
const SAMPLES = Number(process.env.BENCH_PLANNER_SAMPLES ?? 200);
/** Changes before the measured ones: the first few pay for connections and compilation. */
const WARM_UP = 5;

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

/**
 * The planner service on the 5,000-node / 10,000-service cluster: one endpoint change published to
 * cluster-events, timed until every affected node's diff has arrived on node-diffs (through the
 * store, the outbox and the relay, as in production).
 */
export async function benchPlanner(): Promise<Record<string, number>> {
  const db = await benchDatabase();
  const pool = createPool(db.url, { max: 8 });
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  const topics = topicNames(prefix);
  const kafka = createKafka({ brokers: parseBrokers(brokers), clientId: 'netledger-bench' });
  const cluster = syntheticCluster({ nodes: 5000, services: 10_000, endpointsPerService: 10, seed: 42 });
  const store = new PgEventStore(pool);
  let planner: ChildProcess | undefined;
  const admin = kafka.admin();
  await admin.connect();
  try {
    await migrate(pool, [...EVENT_STORE_MIGRATIONS, ...PLANNER_MIGRATIONS]);
    await ensureTopics(admin, [{ name: topics.clusterEvents, partitions: 12, config: {} }]);

    // The cluster as the ingester would have recorded it, and every node already at revision 1:
    // the bench measures the incremental path, not the first full sync of 5,000 nodes.
    const objects = [...cluster.nodes, ...cluster.services, ...cluster.slices];
    for (let i = 0; i < objects.length; i += 2000) {
      await store.transaction((c) =>
        store.appendToStreams(
          c,
          objects.slice(i, i + 2000).map((o) => ({
            streamId: kubeStreamId(o.kind, o.kind === 'Node' ? undefined : o.namespace, o.name),
            expected: 0,
            events: [
              {
                eventId: randomUUID(),
                type: 'KubeObjectApplied',
                schemaVersion: 2,
                data: { object: o },
                metadata: {},
              },
            ],
          })),
        ),
      );
    }
    await pool.query(
      "INSERT INTO planner_streams (stream_id, version) SELECT stream_id, version FROM streams WHERE stream_id LIKE 'k8s/%'",
    );
    await store.transaction((c) =>
      store.appendToStreams(
        c,
        cluster.nodes.map((n) => {
          const data: NodeStateChanged = {
            node: n.name,
            baseRevision: 0,
            revision: 1,
            diffDigest: 'none',
            causation: { eventIds: [], positions: [] },
          };
          return {
            streamId: nodeStreamId(n.name),
            expected: 0,
            events: [
              { eventId: randomUUID(), type: NODE_STATE_CHANGED, schemaVersion: 1, data, metadata: {} },
            ],
          };
        }),
      ),
    );

    const env = {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: brokers,
      NETLEDGER_TOPIC_PREFIX: prefix,
      NODE_DIFFS_PARTITIONS: '32',
      PLANNER_GROUP: `planner-${prefix}`,
      CLUSTER_CIDR: '10.64.0.0/10',
      HTTP_PORT: '18282',
      LOG_FORMAT: 'json',
    };
    const started = performance.now();
    // The built planner, as a process of its own (npm run bench builds first).
    planner = spawn(process.execPath, [join(__dirname, '..', '..', 'apps', 'planner', 'dist', 'main.js')], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let output = '';
    planner.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    while (!output.includes('model rebuilt')) {
      if (planner.exitCode !== null) throw new Error(`planner exited: ${output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const startSeconds = (performance.now() - started) / 1000;

    // Count node-diffs messages per causing cluster event (and the diff bodies sent ahead of them).
    let bodyBytes = 0;
    const arrivals = new Map<string, { count: number; bytes: number; last: number }>();
    const consumer = kafka.consumer({
      groupId: `bench-${prefix}`,
      maxWaitTimeInMs: 20,
      maxBytes: 64 * 1024 * 1024,
    });
    await consumer.connect();
    await consumer.subscribe({ topic: topics.nodeDiffs, fromBeginning: true });
    await consumer.run({
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch }) => {
        const now = performance.now();
        for (const m of batch.messages) {
          if (isDiffBodyKey(m.key?.toString())) {
            bodyBytes += m.value!.length;
            continue;
          }
          const data = decodeEventMessage(m.value).data as NodeStateChanged;
          const cause = data.causation.eventIds[0];
          if (!cause) continue;
          const a = arrivals.get(cause) ?? { count: 0, bytes: 0, last: 0 };
          a.count++;
          a.bytes += m.value!.length;
          a.last = now;
          arrivals.set(cause, a);
        }
      },
    });
    await new Promise((r) => setTimeout(r, 3000));

    const producer = kafka.producer();
    await producer.connect();
    const latencies: number[] = [];
    const bytes: number[] = [];
    const affected: number[] = [];
    const slice = cluster.slices.find(
      (s, i) => cluster.services[i]!.type === 'ClusterIP' && cluster.services[i]!.ports.length === 1,
    )!;
    let version = 1;
    let position = 10_000_000;
    for (let i = 0; i < WARM_UP + SAMPLES; i++) {
      const next: EndpointSlice =
        i % 2 === 0
          ? {
              ...slice,
              endpoints: [...slice.endpoints, { ...slice.endpoints[0]!, addresses: ['10.127.0.1'] }],
            }
          : slice;
      const eventId = randomUUID();
      const streamId = kubeStreamId('EndpointSlice', slice.namespace, slice.name);
      const event = {
        eventId,
        type: 'KubeObjectApplied',
        schemaVersion: 2,
        data: { object: next },
        metadata: {},
        position: ++position,
        streamId,
        streamVersion: ++version,
        recordedAt: new Date(),
      };
      const t0 = performance.now();
      await producer.send({
        topic: topics.clusterEvents,
        acks: -1,
        messages: [{ key: streamId, value: encodeEventMessage(event) }],
      });
      const deadline = Date.now() + 30_000;
      while ((arrivals.get(eventId)?.count ?? 0) < cluster.nodes.length && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 2));
      const a = arrivals.get(eventId);
      if (i < WARM_UP) continue;
      latencies.push((a?.last ?? performance.now()) - t0);
      bytes.push(a?.bytes ?? 0);
      affected.push(a?.count ?? 0);
    }
    await producer.disconnect();
    await consumer.disconnect();
    if (process.env.BENCH_DEBUG) {
      const metrics = await (await fetch('http://127.0.0.1:18282/metrics')).text();
      console.error(
        metrics
          .split('\n')
          .filter((l) => /netledger_planner_(sync|commit)_.*(sum|count)|netledger_outbox/.test(l))
          .join('\n'),
      );
    }
    latencies.sort((x, y) => x - y);
    return {
      'planner.startWithClusterSeconds': Math.round(startSeconds * 100) / 100,
      'planner.endpointChangeAffectedNodes': Math.min(...affected),
      'planner.endpointChangeToPublishP50Ms': Math.round(percentile(latencies, 50)),
      'planner.endpointChangeToPublishP99Ms': Math.round(percentile(latencies, 99)),
      'planner.bytesPublishedPerChange': Math.round(
        (bytes.reduce((x, y) => x + y, 0) + bodyBytes) / bytes.length,
      ),
    };
  } finally {
    if (planner && planner.exitCode === null) {
      const exited = once(planner, 'exit');
      planner.kill('SIGTERM');
      await exited;
    }
    // Only the topics this run made: asking to delete a missing one makes KafkaJS retry for a minute.
    const made = new Set(await admin.listTopics());
    const topicsToDelete = Object.values(topics).filter((t) => made.has(t));
    await admin.deleteTopics({ topics: topicsToDelete }).catch(() => undefined);
    await admin.disconnect();
    await pool.end();
    await db.drop();
  }
}
