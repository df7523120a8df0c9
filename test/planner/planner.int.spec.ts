import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, PgEventStore, PlanLedger } from '@netledger/event-store';
import { PLAN_CHANGED, PLAN_STREAM, type PlanChanged } from '@netledger/model';
import { decodeEventMessage } from '@netledger/messaging';
import { nodeStatesEqual } from '@netledger/planner-core';
import { runService, type RunningService } from '@netledger/service';
import { IngesterModule } from '../../apps/ingester/src/ingester.module';
import { PlannerModule } from '../../apps/planner/src/planner.module';
import { LedgerRetention } from '../../apps/planner/src/planning/ledger-retention';
import { eventually, TopicReader } from '../support/kafka-reader';
import { nodeStateIn, planFromScratch, planFromTopic, testPipeline } from '../support/pipeline';
import { rawNode, rawService, rawSlice } from '../support/kube';

describe('planner: cluster events in, plan changes out', () => {
  let pipeline: Awaited<ReturnType<typeof testPipeline>>;
  let ingester: RunningService;
  let planner: RunningService;
  let plan: TopicReader;

  beforeAll(async () => {
    pipeline = await testPipeline();
    ingester = await runService('ingester', 0, () => IngesterModule.forRoot(pipeline.env), pipeline.env);
    // A window wide enough that a burst of ten arrives within it even on a loaded machine (the
    // ingester commits them one by one): the test is about folding a burst, not the default 20 ms.
    const plannerEnv = { ...pipeline.env, PLANNER_BATCH_WINDOW_MS: '250' };
    planner = await runService('planner', 0, () => PlannerModule.forRoot(plannerEnv), plannerEnv);
    plan = new TopicReader(pipeline.kafka, pipeline.topics.plan);
    await plan.start();
  });
  afterAll(async () => {
    await plan?.stop();
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
          "SELECT coalesce(max(version), 0)::int AS v FROM streams WHERE stream_id = 'plan'",
        );
        const total = rows[0].v as number;
        const stable = total === last && plan.messages.length >= total;
        last = total;
        return stable;
      }, 'the planner to settle');
    } finally {
      await store.pool.end();
    }
  };

  it('a scripted history yields plan changes that rebuild every node’s from-scratch plan', async () => {
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
    // Converged when the plan rebuilt from the topic gives every node its from-scratch plan (and
    // the node that left has no manifest any more).
    await eventually(() => {
      const book = planFromTopic(plan, pipeline.keys.PLAN_VERIFY_KEYS);
      return (
        [...expected].every(([node, state]) => nodeStatesEqual(nodeStateIn(book, node), state)) &&
        !book.hasNode('node-b')
      );
    }, 'every node to converge');
    // The burst of ten endpoint changes did not make ten plan changes.
    expect(planFromTopic(plan, pipeline.keys.PLAN_VERIFY_KEYS).revision).toBeLessThan(12);
  });

  it('records each change once as PlanChanged on the plan stream, with its causes, its fragments stored once', async () => {
    const store = new PgEventStore(createPool(pipeline.db.url));
    try {
      const events = await store.readStream(PLAN_STREAM);
      expect(events.length).toBeGreaterThan(1);
      events.forEach((e, i) => {
        expect(e.type).toBe(PLAN_CHANGED);
        const data = e.data as PlanChanged;
        expect(data.change.revision).toBe(i + 1);
        expect(data.causes.length).toBeGreaterThan(0);
      });
      // No per-node stream: the plan is one stream, whatever the number of nodes.
      const nodeStreams = await store.pool.query("SELECT 1 FROM streams WHERE stream_id LIKE 'node/%'");
      expect(nodeStreams.rowCount).toBe(0);
      const named = new Set(events.flatMap((e) => (e.data as PlanChanged).change.fragments));
      const stored = await store.pool.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM plan_fragments WHERE digest = ANY($1)',
        [[...named]],
      );
      expect(stored.rows[0]!.n).toBe(named.size);
    } finally {
      await store.pool.end();
    }
  });

  it('a replayed cluster event changes nothing', async () => {
    // The cluster-events messages exactly as the relay published them, sent again.
    const clusterEvents = new TopicReader(pipeline.kafka, pipeline.topics.clusterEvents);
    await clusterEvents.start();
    await eventually(() => clusterEvents.messages.length >= 10, 'the cluster-events messages');
    await clusterEvents.stop();
    const replayed = clusterEvents.messages.slice(0, 10);
    expect(replayed.every((m) => decodeEventMessage(m.value).streamId === m.key)).toBe(true);
    const before = plan.messages.length;
    const producer = pipeline.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: pipeline.topics.clusterEvents,
      messages: replayed.map((m) => ({ key: m.key, value: m.value })),
    });
    await producer.disconnect();
    await new Promise((r) => setTimeout(r, 1500));
    expect(plan.messages.length).toBe(before);
  });

  it('retention folds older history into a checkpoint: the plan, later revisions and a restart are unchanged', async () => {
    const store = new PgEventStore(createPool(pipeline.db.url));
    try {
      const ledger = new PlanLedger(store);
      const head = await ledger.head();
      expect(head).toBeGreaterThan(3);
      // Fold everything recorded before revision `keep` (a cutoff instead of waiting 30 days).
      const keep = head - 2;
      const cutoff = new Date((await ledger.recordedAt(keep))!.getTime() + 1);
      const later = [keep, keep + 1, head];
      const before = await Promise.all(later.map((revision) => ledger.book({ revision })));
      const count = async (sql: string) => (await store.pool.query<{ n: number }>(sql)).rows[0]!.n;
      const clusterEventsBefore = await count(
        "SELECT count(*)::int AS n FROM events WHERE stream_id <> 'plan'",
      );

      const run = await planner.app.get(LedgerRetention).run(cutoff);
      expect(run.revision).toBe(keep);
      expect(run.changes).toBe(keep - 1);
      // The burst of endpoint changes left older versions of the slice's stream to delete.
      expect(run.clusterEvents).toBeGreaterThan(0);
      expect(await count("SELECT count(*)::int AS n FROM events WHERE stream_id <> 'plan'")).toBe(
        clusterEventsBefore - run.clusterEvents,
      );
      expect(await ledger.horizon()).toBe(keep);

      // Every revision kept resolves as before; an older one is refused, by revision and by time.
      for (const [i, revision] of later.entries()) {
        const after = await ledger.book({ revision });
        for (const node of before[i]!.nodeNames())
          expect(nodeStatesEqual(after.stateOf(node), before[i]!.stateOf(node))).toBe(true);
      }
      await expect(ledger.book({ revision: keep - 1 })).rejects.toMatchObject({
        code: 'PLAN.BEYOND_RETENTION',
      });
      await expect(ledger.revisionAt(new Date(0))).rejects.toMatchObject({ code: 'PLAN.BEYOND_RETENTION' });
      // Every fragment the plan names from `keep` on is still stored.
      const named = new Set(before.flatMap((b) => b.snapshot().fragments));
      expect(
        await count(
          `SELECT count(*)::int AS n FROM plan_fragments WHERE digest = ANY('{${[...named].join(',')}}')`,
        ),
      ).toBe(named.size);
      // ... and nothing older that nothing kept names.
      expect(
        await count(
          `SELECT count(*)::int AS n FROM plan_fragments WHERE first_revision < ${keep} AND NOT (digest = ANY('{${[...named].join(',')}}'))`,
        ),
      ).toBe(0);

      // A restarted planner rebuilds from what is kept and plans the next change as from scratch.
      await planner.stop();
      const plannerEnv = { ...pipeline.env, PLANNER_BATCH_WINDOW_MS: '250' };
      planner = await runService('planner', 0, () => PlannerModule.forRoot(plannerEnv), plannerEnv);
      pipeline.apiserver.apply(
        rawSlice(
          'default',
          'web-1',
          'web',
          [{ name: 'http', port: 8080 }],
          [{ ip: '10.244.1.9', node: 'node-a' }],
        ) as Record<string, unknown>,
      );
      const expected = planFromScratch(pipeline.apiserver.allObjects());
      await eventually(async () => {
        if ((await ledger.head()) <= head) return false;
        const now = await ledger.book();
        return [...expected].every(([node, state]) => nodeStatesEqual(now.stateOf(node), state));
      }, 'the restarted planner to plan the change');
    } finally {
      await store.pool.end();
    }
  });
});
