import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, PgEventStore, PlanLedger } from '@netledger/event-store';
import { PLAN_STREAM } from '@netledger/model';
import { nodeStatesEqual } from '@netledger/planner-core';
import { runService, type RunningService } from '@netledger/service';
import { IngesterModule } from '../../apps/ingester/src/ingester.module';
import { AppProcess } from '../support/app-process';
import { eventually, TopicReader } from '../support/kafka-reader';
import { nodeStateIn, nodeStates, planFromScratch, planFromTopic, testPipeline } from '../support/pipeline';
import { rawNode, rawService, rawSlice } from '../support/kube';
import { prng } from '../support/synthetic-cluster';

/** The planner killed with SIGKILL at random points of a stream of changes loses and repeats nothing. */
describe('planner killed and restarted during a stream of changes', () => {
  let pipeline: Awaited<ReturnType<typeof testPipeline>>;
  let ingester: RunningService;
  let planner: AppProcess;
  let plan: TopicReader;

  beforeAll(async () => {
    pipeline = await testPipeline();
    ingester = await runService('ingester', 0, () => IngesterModule.forRoot(pipeline.env), pipeline.env);
    planner = new AppProcess('planner', pipeline.env);
    await planner.start();
    plan = new TopicReader(pipeline.kafka, pipeline.topics.plan);
    await plan.start();
  });
  /** Kafka carries the plan (at least once: a change sent again is the same change). */
  const topicCarries = (expected: ReturnType<typeof planFromScratch>) =>
    eventually(
      () => {
        try {
          const book = planFromTopic(plan, pipeline.keys.PLAN_VERIFY_KEYS);
          return [...expected].every(([node, state]) => nodeStatesEqual(nodeStateIn(book, node), state));
        } catch {
          return false;
        }
      },
      'the plan topic to carry every change',
      30_000,
    );
  afterAll(async () => {
    await plan?.stop();
    await planner?.stop();
    await ingester?.stop();
    await pipeline?.close();
  });

  it('ends with every node equal to a from-scratch plan, the plan’s revisions unbroken', async () => {
    const { apiserver } = pipeline;
    const random = prng(7);
    for (let n = 0; n < 4; n++)
      apiserver.apply(
        rawNode(`node-${n}`, `198.18.0.${n + 10}`, `10.244.${n}.0/24`) as Record<string, unknown>,
      );
    let kills = 0;
    for (let step = 0; step < 60; step++) {
      const s = Math.floor(random() * 6);
      const roll = random();
      if (roll < 0.5) {
        const eps = Array.from({ length: 1 + Math.floor(random() * 4) }, (_, i) => {
          const n = Math.floor(random() * 4);
          return { ip: `10.244.${n}.${20 + i + s * 5}`, node: `node-${n}` };
        });
        apiserver.apply(
          rawService('default', `s${s}`, {
            clusterIP: `10.96.0.${s + 10}`,
            ...(s % 2
              ? { type: 'NodePort' as const, ports: [{ name: 'http', port: 80, nodePort: 30000 + s }] }
              : { ports: [{ name: 'http', port: 80 }] }),
          }) as Record<string, unknown>,
        );
        apiserver.apply(
          rawSlice('default', `s${s}-1`, `s${s}`, [{ name: 'http', port: 8080 }], eps) as Record<
            string,
            unknown
          >,
        );
      } else if (roll < 0.7) {
        apiserver.delete('EndpointSlice', 'default', `s${s}-1`);
      } else if (roll < 0.8) {
        apiserver.delete('Service', 'default', `s${s}`);
      } else if (roll < 0.9) {
        const n = 4 + (step % 2);
        if (random() < 0.5)
          apiserver.apply(
            rawNode(`node-${n}`, `198.18.0.${n + 10}`, `10.244.${n}.0/24`) as Record<string, unknown>,
          );
        else apiserver.delete('Node', undefined, `node-${n}`);
      }
      if (random() < 0.12) {
        await new Promise((r) => setTimeout(r, Math.floor(random() * 200)));
        await planner.kill();
        kills++;
        await planner.start();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(kills).toBeGreaterThanOrEqual(3);

    const store = new PgEventStore(createPool(pipeline.db.url));
    try {
      const expected = planFromScratch(apiserver.allObjects());
      const ledger = new PlanLedger(store);
      // Settled when the plan resolved from the ledger gives every node its from-scratch plan.
      await eventually(
        async () => {
          const book = await ledger.book();
          return (
            [...expected].every(([node, state]) => nodeStatesEqual(nodeStateIn(book, node), state)) &&
            book.nodeNames().length === expected.size
          );
        },
        'every node to converge',
        60_000,
      );
      // One change per revision, numbered 1, 2, 3, ... without a gap or a repeat, kills or not.
      const events = await store.readStream(PLAN_STREAM);
      expect(events.map((e) => e.streamVersion)).toEqual(events.map((_, i) => i + 1));
      // Resolved from the checkpoint-free log and from one with checkpoints, the same plan.
      const whole = await ledger.book();
      await ledger.saveCheckpoint(whole);
      expect(await ledger.checkpointBefore(whole.revision)).toBe(whole.revision);
      const fromCheckpoint = await ledger.book();
      for (const [node, state] of nodeStates(fromCheckpoint))
        expect(nodeStatesEqual(state, nodeStateIn(whole, node))).toBe(true);
      await topicCarries(expected);
    } finally {
      await store.pool.end();
    }
  });

  it('goes on after its PostgreSQL connections are cut mid-stream, as a database restart cuts them', async () => {
    const { apiserver } = pipeline;
    const store = new PgEventStore(createPool(pipeline.db.url));
    try {
      const ledger = new PlanLedger(store);
      const startedAt = await ledger.head();
      let cuts = 0;
      for (let step = 0; step < 40; step++) {
        const s = step % 5;
        apiserver.apply(
          rawSlice(
            'default',
            `pg${s}-1`,
            `pg${s}`,
            [{ name: 'http', port: 8080 }],
            [{ ip: `10.244.${step % 4}.${100 + step}`, node: `node-${step % 4}` }],
          ) as Record<string, unknown>,
        );
        apiserver.apply(
          rawService('default', `pg${s}`, {
            clusterIP: `10.96.1.${s + 10}`,
            ports: [{ name: 'http', port: 80 }],
          }) as Record<string, unknown>,
        );
        if (step % 10 === 5) {
          // Every client connection to the database but this one: the planner's and the
          // ingester's, mid-transaction or idle, as a restart of PostgreSQL ends them (not the
          // server's own workers, such as autovacuum, which the role may not end).
          const { rowCount } = await store.pool.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
               AND usename = current_user AND backend_type = 'client backend'`,
          );
          expect(rowCount).toBeGreaterThan(0);
          cuts++;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(cuts).toBe(4);
      const expected = planFromScratch(apiserver.allObjects());
      await eventually(
        async () => {
          const book = await ledger.book().catch(() => undefined);
          return (
            book !== undefined &&
            book.revision > startedAt &&
            [...expected].every(([node, state]) => nodeStatesEqual(nodeStateIn(book, node), state))
          );
        },
        'every node to converge after the cuts',
        90_000,
      );
      const events = await store.readStream(PLAN_STREAM);
      expect(events.map((e) => e.streamVersion)).toEqual(events.map((_, i) => i + 1));
      await topicCarries(expected);
    } finally {
      await store.pool.end();
    }
  });
});
