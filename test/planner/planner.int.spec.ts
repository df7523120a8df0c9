import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, PgEventStore } from '@netledger/event-store';
import { NODE_STATE_CHANGED } from '@netledger/model';
import { decodeEventMessage } from '@netledger/messaging';
import { nodeStatesEqual } from '@netledger/planner-core';
import { runService, type RunningService } from '@netledger/service';
import { IngesterModule } from '../../apps/ingester/src/ingester.module';
import { PlannerModule } from '../../apps/planner/src/planner.module';
import { eventually, TopicReader } from '../support/kafka-reader';
import { planFromScratch, replay, revisionsByNode, testPipeline } from '../support/pipeline';
import { rawNode, rawService, rawSlice } from '../support/kube';

describe('planner: cluster events in, node revisions out', () => {
  let pipeline: Awaited<ReturnType<typeof testPipeline>>;
  let ingester: RunningService;
  let planner: RunningService;
  let diffs: TopicReader;
  let snapshots: TopicReader;

  beforeAll(async () => {
    pipeline = await testPipeline();
    ingester = await runService('ingester', 0, () => IngesterModule.forRoot(pipeline.env), pipeline.env);
    // A window wide enough that a burst of ten arrives within it even on a loaded machine (the
    // ingester commits them one by one): the test is about folding a burst, not the default 20 ms.
    const plannerEnv = { ...pipeline.env, PLANNER_BATCH_WINDOW_MS: '250' };
    planner = await runService('planner', 0, () => PlannerModule.forRoot(plannerEnv), plannerEnv);
    diffs = new TopicReader(pipeline.kafka, pipeline.topics.nodeDiffs);
    snapshots = new TopicReader(pipeline.kafka, pipeline.topics.nodeSnapshots);
    await Promise.all([diffs.start(), snapshots.start()]);
  });
  afterAll(async () => {
    await diffs?.stop();
    await snapshots?.stop();
    await planner?.stop();
    await ingester?.stop();
    await pipeline?.close();
  });

  const settle = async () => {
    const store = new PgEventStore(createPool(pipeline.db.url));
    try {
      let last = -1;
      await eventually(async () => {
        const { rows } = await store.pool.query(
          "SELECT coalesce(sum(version), 0)::int AS v FROM streams WHERE stream_id LIKE 'node/%'",
        );
        const total = rows[0].v as number;
        const stable = total === last && diffs.messages.length >= total;
        last = total;
        return stable;
      }, 'the planner to settle');
    } finally {
      await store.pool.end();
    }
  };

  it('a scripted history yields, per node, a revision chain that rebuilds the from-scratch plan', async () => {
    const { apiserver } = pipeline;
    apiserver.apply(rawNode('node-a', '198.18.0.11', '10.244.1.0/24') as Record<string, unknown>);
    apiserver.apply(rawNode('node-b', '198.18.0.12', '10.244.2.0/24') as Record<string, unknown>);
    await new Promise((r) => setTimeout(r, 300));
    apiserver.apply(
      rawService('default', 'web', {
        type: 'NodePort',
        clusterIP: '10.96.0.10',
        ports: [{ name: 'http', port: 80, nodePort: 30080 }],
      }) as Record<string, unknown>,
    );
    apiserver.apply(
      rawSlice(
        'default',
        'web-1',
        'web',
        [{ name: 'http', port: 8080 }],
        [{ ip: '10.244.1.5', node: 'node-a' }],
      ) as Record<string, unknown>,
    );
    apiserver.apply(rawNode('node-c', '198.18.0.13', '10.244.3.0/24') as Record<string, unknown>);
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < 10; i++) {
      apiserver.apply(
        rawSlice(
          'default',
          'web-1',
          'web',
          [{ name: 'http', port: 8080 }],
          [
            { ip: '10.244.1.5', node: 'node-a' },
            { ip: `10.244.3.${10 + i}`, node: 'node-c' },
          ],
        ) as Record<string, unknown>,
      );
    }
    apiserver.apply(
      rawService('kube-system', 'dns', {
        clusterIP: '10.96.0.53',
        ports: [{ name: 'dns', port: 53, protocol: 'UDP' }],
        internalTrafficPolicy: 'Local',
      }) as Record<string, unknown>,
    );
    apiserver.apply(
      rawSlice(
        'kube-system',
        'dns-1',
        'dns',
        [{ name: 'dns', port: 53, protocol: 'UDP' }],
        [{ ip: '10.244.2.3', node: 'node-b' }],
      ) as Record<string, unknown>,
    );
    apiserver.delete('Node', undefined, 'node-b');
    await settle();

    const expected = planFromScratch(apiserver.allObjects());
    expect([...expected.keys()].sort()).toEqual(['node-a', 'node-c']);
    // Converged when every node's chain of revisions rebuilds its from-scratch plan (and the node
    // that left got a last revision that empties it).
    await eventually(() => {
      const byNode = revisionsByNode(diffs);
      return (
        [...expected].every(
          ([node, state]) => byNode.has(node) && nodeStatesEqual(replay(byNode.get(node)!), state),
        ) &&
        byNode.has('node-b') &&
        replay(byNode.get('node-b')!).chains.size === 0
      );
    }, 'every node to converge');
    const byNode = revisionsByNode(diffs);
    // The burst of ten endpoint changes did not make ten revisions per node.
    expect(byNode.get('node-a')!.length).toBeLessThan(12);
  });

  it('records each revision as NodeStateChanged on the node stream, with its causes, and publishes a snapshot', async () => {
    const store = new PgEventStore(createPool(pipeline.db.url));
    try {
      const events = await store.readStream('node/node-a');
      expect(events.length).toBeGreaterThan(1);
      events.forEach((e, i) => {
        expect(e.type).toBe(NODE_STATE_CHANGED);
        expect(e.data).toMatchObject({ node: 'node-a', revision: i + 1, baseRevision: i });
        expect((e.data as { causation: { eventIds: string[] } }).causation.eventIds.length).toBeGreaterThan(
          0,
        );
      });
    } finally {
      await store.pool.end();
    }
    await eventually(() => snapshots.messages.some((m) => m.key === 'node-a'), 'a node-a snapshot');
    const last = [...snapshots.messages].reverse().find((m) => m.key === 'node-a')!;
    expect(JSON.parse(last.value)).toMatchObject({
      node: 'node-a',
      state: { devices: [{ name: 'flannel.1' }] },
    });
  });

  it('a replayed cluster event changes nothing', async () => {
    // The cluster-events messages exactly as the relay published them, sent again.
    const clusterEvents = new TopicReader(pipeline.kafka, pipeline.topics.clusterEvents);
    await clusterEvents.start();
    await eventually(() => clusterEvents.messages.length >= 10, 'the cluster-events messages');
    await clusterEvents.stop();
    const replayed = clusterEvents.messages.slice(0, 10);
    expect(replayed.every((m) => decodeEventMessage(m.value).streamId === m.key)).toBe(true);
    const before = diffs.messages.length;
    const producer = pipeline.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: pipeline.topics.clusterEvents,
      messages: replayed.map((m) => ({ key: m.key, value: m.value })),
    });
    await producer.disconnect();
    await new Promise((r) => setTimeout(r, 1500));
    expect(diffs.messages.length).toBe(before);
  });
});
