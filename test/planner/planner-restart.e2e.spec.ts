import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, PgEventStore } from '@netledger/event-store';
import { EMPTY_NODE_STATE, type NodeDiff, type NodeState, type NodeStateChanged } from '@netledger/model';
import { applyNodeDiff, nodeStatesEqual } from '@netledger/planner-core';
import { runService, type RunningService } from '@netledger/service';
import { IngesterModule } from '../../apps/ingester/src/ingester.module';
import { AppProcess } from '../support/app-process';
import { eventually, TopicReader } from '../support/kafka-reader';
import { planFromScratch, replay, revisionsByNode, testPipeline } from '../support/pipeline';
import { rawNode, rawService, rawSlice } from '../support/kube';
import { prng } from '../support/synthetic-cluster';

/** The planner killed with SIGKILL at random points of a stream of changes loses and repeats nothing. */
describe('planner killed and restarted during a stream of changes', () => {
  let pipeline: Awaited<ReturnType<typeof testPipeline>>;
  let ingester: RunningService;
  let planner: AppProcess;
  let diffs: TopicReader;

  beforeAll(async () => {
    pipeline = await testPipeline();
    ingester = await runService('ingester', 0, () => IngesterModule.forRoot(pipeline.env), pipeline.env);
    planner = new AppProcess('planner', pipeline.env);
    await planner.start();
    diffs = new TopicReader(pipeline.kafka, pipeline.topics.nodeDiffs);
    await diffs.start();
  });
  afterAll(async () => {
    await diffs?.stop();
    await planner?.stop();
    await ingester?.stop();
    await pipeline?.close();
  });

  it('ends with every node equal to a from-scratch plan, its revision chain unbroken', async () => {
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
      // Settled when every present node's replayed stream equals the from-scratch plan.
      const fromStore = async (
        node: string,
      ): Promise<{ state: NodeState; revisions: NodeStateChanged[] }> => {
        const events = (await store.readStream(`node/${node}`)).map((e) => e.data as NodeStateChanged);
        const { rows } = await store.pool.query<{ digest: string; body: NodeDiff }>(
          'SELECT digest, body FROM node_diff_bodies WHERE digest = ANY($1)',
          [events.map((e) => e.diffDigest)],
        );
        const bodies = new Map(rows.map((r) => [r.digest, r.body]));
        let state = EMPTY_NODE_STATE;
        for (const r of events) state = applyNodeDiff(state, bodies.get(r.diffDigest)!);
        return { state, revisions: events };
      };
      await eventually(
        async () => {
          for (const [node, state] of expected)
            if (!nodeStatesEqual((await fromStore(node)).state, state)) return false;
          return true;
        },
        'every node to converge',
        60_000,
      );
      for (const node of expected.keys()) {
        const { revisions } = await fromStore(node);
        revisions.forEach((r, i) => expect([r.baseRevision, r.revision]).toEqual([i, i + 1]));
      }
      // Kafka carries the same chains (at least once: repeats of a revision are the same revision).
      await eventually(
        () => {
          const byNode = revisionsByNode(diffs);
          return [...expected].every(([node, state]) => {
            try {
              return nodeStatesEqual(replay(byNode.get(node) ?? []), state);
            } catch {
              return false;
            }
          });
        },
        'node-diffs to carry every revision',
        30_000,
      );
    } finally {
      await store.pool.end();
    }
  });
});
