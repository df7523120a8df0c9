import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import autocannon from 'autocannon';
import {
  createPool,
  EVENT_STORE_MIGRATIONS,
  migrate,
  newEventId,
  PgEventStore,
  PlanLedger,
} from '@netledger/event-store';
import { ChangePlanner, NetworkPlanner } from '@netledger/planner-core';
import { DEFAULT_PROXY_CONFIG } from '@netledger/model';
import { syntheticCluster } from '../../test/support/synthetic-cluster';
import { benchDatabase } from './database';
import { isReady } from '../../test/support/readiness';

const TOKEN = 'bench-token-0123456789abcdef';

/**
 * The API under load on loopback (autocannon), with ~1,000,000 events stored and a plan of 5,000
 * nodes: p99 of a node's current state (resolved from the plan), and of audit queries by node and
 * by object.
 */
export async function benchApi(): Promise<Record<string, number>> {
  const db = await benchDatabase();
  const pool = createPool(db.url, { max: 8 });
  const store = new PgEventStore(pool);
  let api: ChildProcess | undefined;
  try {
    await migrate(pool, EVENT_STORE_MIGRATIONS);
    // Cluster events: 10,000 services, each applied 99 times (990,000 events).
    const cluster = syntheticCluster({ nodes: 50, services: 10_000, endpointsPerService: 2, seed: 3 });
    for (let round = 0; round < 99; round++) {
      for (let i = 0; i < cluster.services.length; i += 5000) {
        await store.transaction((c) =>
          store.appendToStreams(
            c,
            cluster.services.slice(i, i + 5000).map((s) => ({
              streamId: `k8s/Service/${s.namespace}/${s.name}`,
              expected: round,
              events: [
                {
                  eventId: newEventId(),
                  type: 'KubeObjectApplied',
                  schemaVersion: 2,
                  data: { object: s },
                  metadata: { sourceResourceVersion: String(round) },
                },
              ],
            })),
          ),
        );
      }
    }
    // A plan of 5,000 nodes and 200 services, recorded in two changes as the planner records them.
    const cluster5k = syntheticCluster({ nodes: 5000, services: 200, endpointsPerService: 10, seed: 5 });
    const planner = new ChangePlanner(
      new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.64.0.0/10'] }),
    );
    const ledger = new PlanLedger(store);
    const recordPlan = async () => {
      const planned = planner.commit()!;
      await store.transaction((c) => ledger.append(c, planned.change, planned.fragments, planned.causes));
    };
    for (const o of [...cluster5k.nodes, ...cluster5k.services, ...cluster5k.slices]) planner.model.upsert(o);
    await recordPlan();
    planner.model.upsert({ ...cluster5k.slices[0]!, endpoints: cluster5k.slices[0]!.endpoints.slice(1) });
    await recordPlan();

    const env = {
      ...process.env,
      DATABASE_URL: db.url,
      KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
      NETLEDGER_TOPIC_PREFIX: `bench-${newEventId().slice(0, 8)}`,
      API_TOKENS: `${TOKEN}:reader`,
      API_STATUS_GROUP: `bench-${newEventId()}`,
      HTTP_PORT: '18280',
      LOG_FORMAT: 'json',
    };
    const started = performance.now();
    api = spawn(process.execPath, [join(__dirname, '..', '..', 'apps', 'api', 'dist', 'main.js')], {
      env,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    for (;;) {
      if (api.exitCode !== null) throw new Error('api exited');
      if (await isReady(18280)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const projectSeconds = (performance.now() - started) / 1000;

    const load = async (
      path: () => string,
    ): Promise<{ p50: number; p99: number; rps: number; errors: number }> => {
      const result = await autocannon({
        url: 'http://127.0.0.1:18280',
        connections: 8,
        duration: 8,
        headers: { authorization: `Bearer ${TOKEN}` },
        requests: [{ setupRequest: (req) => ({ ...req, path: path() }) }],
      });
      return {
        p50: result.latency.p50,
        p99: result.latency.p99,
        rps: result.requests.average,
        errors: result.non2xx + result.errors,
      };
    };
    const random = (n: number) => Math.floor(Math.random() * n);
    const state = await load(() => `/v1/nodes/${cluster5k.nodes[random(5000)]!.name}/state`);
    const auditByNode = await load(() => `/v1/audit?node=node-${random(5000)}&limit=50`);
    const auditByObject = await load(
      () => `/v1/audit?kind=Service&namespace=ns-${random(50)}&name=svc-${random(10_000)}&limit=50`,
    );
    const events = Number((await pool.query('SELECT count(*) AS n FROM events')).rows[0].n);
    return {
      'api.eventsStored': events,
      'api.projectionCatchUpSeconds': Math.round(projectSeconds * 10) / 10,
      'api.stateP50Ms': state.p50,
      'api.stateP99Ms': state.p99,
      'api.stateRequestsPerSec': Math.round(state.rps),
      'api.auditP99Ms': Math.max(auditByNode.p99, auditByObject.p99),
      'api.auditByNodeP99Ms': auditByNode.p99,
      'api.auditByObjectP99Ms': auditByObject.p99,
      'api.errors': state.errors + auditByNode.errors + auditByObject.errors,
    };
  } finally {
    if (api && api.exitCode === null) {
      const exited = once(api, 'exit');
      api.kill('SIGTERM');
      await exited;
    }
    await pool.end();
    await db.drop();
  }
}
