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
} from '@netledger/event-store';
import { diffDigest } from '@netledger/messaging';
import { diffNodeStates, NetworkPlanner, nodeStateOf } from '@netledger/planner-core';
import {
  DEFAULT_PROXY_CONFIG,
  EMPTY_NODE_STATE,
  NODE_STATE_CHANGED,
  type NodeStateChanged,
} from '@netledger/model';
import { syntheticCluster } from '../../test/support/synthetic-cluster';
import { benchDatabase } from './database';

const TOKEN = 'bench-token-0123456789abcdef';

/**
 * The API under load on loopback (autocannon), with 5,000 nodes and 1,000,000 events stored:
 * p99 of a node's current state, and of audit queries by node and by object.
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
    // 5,000 nodes, two revisions each, sharing diff bodies (10,000 events).
    const planner = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.64.0.0/10'] });
    for (const o of [
      ...cluster.nodes.slice(0, 5),
      ...cluster.services.slice(0, 200),
      ...cluster.slices.slice(0, 200),
    ])
      planner.upsert(o);
    const s1 = nodeStateOf(planner.planNode(cluster.nodes[0]!.name));
    planner.upsert({ ...cluster.slices[0]!, endpoints: cluster.slices[0]!.endpoints.slice(1) });
    const s2 = nodeStateOf(planner.planNode(cluster.nodes[0]!.name));
    const diffs = [diffNodeStates(EMPTY_NODE_STATE, s1), diffNodeStates(s1, s2)].map((d) => ({
      json: JSON.stringify(d),
      digest: '',
    }));
    for (const d of diffs) d.digest = diffDigest(d.json);
    await pool.query(
      'INSERT INTO node_diff_bodies (digest, body) SELECT * FROM unnest($1::text[], $2::jsonb[])',
      [diffs.map((d) => d.digest), diffs.map((d) => d.json)],
    );
    const nodes = Array.from({ length: 5000 }, (_, i) => `node-${i}`);
    for (const revision of [1, 2]) {
      await store.transaction((c) =>
        store.appendToStreams(
          c,
          nodes.map((node) => {
            const data: NodeStateChanged = {
              node,
              baseRevision: revision - 1,
              revision,
              diffDigest: diffs[revision - 1]!.digest,
              causation: { eventIds: [], positions: [] },
            };
            return {
              streamId: `node/${node}`,
              expected: revision - 1,
              events: [
                { eventId: newEventId(), type: NODE_STATE_CHANGED, schemaVersion: 1, data, metadata: {} },
              ],
            };
          }),
        ),
      );
    }

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
      const ready = await fetch('http://127.0.0.1:18280/readyz').then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
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
    const state = await load(() => `/v1/nodes/node-${random(5000)}/state`);
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
