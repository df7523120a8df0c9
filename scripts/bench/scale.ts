import { readKafkaSecurity } from '@netledger/process';
import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createPool,
  EVENT_STORE_MIGRATIONS,
  migrate,
  PgEventStore,
  PlanLedger,
} from '@netledger/event-store';
import { createKafka, ensureTopics, MAX_CHANGE_BYTES, parseBrokers, topicNames } from '@netledger/messaging';
import { type EndpointSlice, type KubeObject, type PlanChanged, type RecordedEvent } from '@netledger/model';
import { nodeStateOf, PlanBook } from '@netledger/planner-core';
import { Partitioners } from 'kafkajs';
import type { Pool } from 'pg';
import { API_MIGRATIONS } from '../../apps/api/src/api.migrations';
import { ApiPlanSource } from '../../apps/executor/src/execution/api-plan-source';
import { PLANNER_MIGRATIONS } from '../../apps/planner/src/planner.migrations';
import { Ingested } from '../../test/support/ingested';
import { syntheticCluster } from '../../test/support/synthetic-cluster';
import { benchDatabase } from './database';
import { percentile, round } from './figures';
import { heapUsedMiB, memoryOf, waitFor } from './processes';
import { appEntry } from '../../test/support/app-entry';
import { testPlanKeys } from '../../test/support/plan-keys';
import { isReady } from '../../test/support/readiness';

/*
 * Issue 13's figures, on this machine with PostgreSQL and Kafka beside it: a K8s-max cluster
 * (5,000 nodes, 10,000 services, ~100,000 endpoints) taken on from nothing, one endpoint change
 * after a quiet spell, sustained endpoint churn, a planner kill -9, and the API and an executor's
 * first sync at that size. The planner and the API run as the built processes; changes go in as
 * the ingester records and publishes them.
 *
 * BENCH_CHURN_SECONDS (default 30; the issue's run is 600) and BENCH_CHURN_RATE (1,000/s).
 */

const repo = join(__dirname, '..', '..');
const TOKEN = 'bench-token-0123456789abcdef';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The figures so far, on stderr: a long run that fails late still says what it measured. */
const progress = (figures: Record<string, number>) =>
  process.stderr.write(`scale: ${JSON.stringify(figures)}\n`);

/** Bytes of the log segments of a topic's partitions on the broker's disk: what consumers fetch. */
function topicLogBytes(topic: string): number {
  const dir = process.env.KAFKA_DATA_DIR ?? join(repo, '.run', 'kafka', 'data');
  let total = 0;
  for (const entry of existsSync(dir) ? readdirSync(dir) : []) {
    if (!entry.startsWith(`${topic}-`)) continue;
    for (const file of readdirSync(join(dir, entry)))
      if (file.endsWith('.log')) total += statSync(join(dir, entry, file)).size;
  }
  return total;
}

/** What the plan's and the log's tables take in PostgreSQL. */
async function ledgerBytes(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(
    `SELECT sum(pg_total_relation_size(c))::bigint AS n FROM unnest(ARRAY['events','streams','outbox',
       'plan_fragments','plan_checkpoints','planner_streams']::regclass[]) AS c`,
  );
  return Number(rows[0]!.n);
}

/** CPU time (user + system, ms) a process has used so far, and its command name. */
function cpuOfPid(pid: string | number): { comm: string; ms: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime, in USER_HZ (100 on Linux).
    const ms = (Number(fields[11]) + Number(fields[12])) * 10;
    return { comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ms };
  } catch {
    return undefined; // gone meanwhile
  }
}

/** CPU time (ms) used so far by the processes with that command name. */
function cpuMsOf(comm: string): number {
  let ms = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    const cpu = cpuOfPid(pid);
    if (cpu?.comm === comm) ms += cpu.ms;
  }
  return ms;
}

/** CPU time of the planner, PostgreSQL, Kafka and this process (the ingester's writes and an executor's reads). */
function cpuByComponent(plannerPid: number): Record<string, number> {
  const own = process.cpuUsage();
  return {
    planner: cpuOfPid(plannerPid)?.ms ?? 0,
    postgres: cpuMsOf('postgres'),
    kafka: cpuMsOf('java'),
    bench: (own.user + own.system) / 1000,
  };
}

interface App {
  readonly child: ChildProcess;
  /** The last 20,000 characters it wrote, each chunk timed from its start. */
  output(): string;
  /** Its warnings about slow batches, the last 1,000. */
  readonly slowBatches: string[];
}

function startApp(app: string, env: Record<string, string>): App {
  // BENCH_NODE_ARGS: node options for the apps, e.g. --cpu-prof or --prof to see where time goes.
  const nodeArgs = [
    // As deploy/planner.yaml runs it: a young generation that holds a batch's garbage.
    ...(app === 'planner' ? ['--max-semi-space-size=64'] : []),
    ...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean),
  ];
  // Not the bench's own NODE_OPTIONS (a large young generation): each app as deploy/ runs it.
  const { NODE_OPTIONS: _benchOptions, ...inherited } = process.env;
  const child = spawn(process.execPath, [...nodeArgs, appEntry(app)], {
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const slowBatches: string[] = [];
  const started = performance.now();
  const take = (d: Buffer) => {
    const text = d.toString();
    output = (output + `[+${Math.round(performance.now() - started)} ms] ${text}`).slice(-20_000);
    for (const [line] of text.matchAll(/(slow (batch|commit)|relay:|failed|pausing)[^\n"]*/g))
      slowBatches.push(line);
    slowBatches.splice(0, slowBatches.length - 1000);
  };
  child.stdout!.on('data', take);
  child.stderr!.on('data', take);
  return { child, output: () => output, slowBatches };
}

export async function benchScale(): Promise<Record<string, number>> {
  const churnSeconds = Number(process.env.BENCH_CHURN_SECONDS ?? 30);
  const churnRate = Number(process.env.BENCH_CHURN_RATE ?? 1000);
  const db = await benchDatabase();
  const pool = createPool(db.url, { max: 8 });
  const store = new PgEventStore(pool);
  const ledger = new PlanLedger(store);
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const prefix = `bench-${randomUUID().slice(0, 8)}`;
  const topics = topicNames(prefix);
  const kafka = createKafka({
    brokers: parseBrokers(brokers),
    clientId: 'netledger-bench',
    security: readKafkaSecurity(),
  });
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  const figures: Record<string, number> = {};
  const env = {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: brokers,
    NETLEDGER_TOPIC_PREFIX: prefix,
    PLANNER_GROUP: `planner-${prefix}`,
    CLUSTER_CIDR: '10.64.0.0/10',
    LOG_FORMAT: 'json',
    ...testPlanKeys(),
  };
  let planner: ReturnType<typeof startApp> | undefined;
  let api: ReturnType<typeof startApp> | undefined;
  let executor: ReturnType<typeof startApp> | undefined;
  const consumer = kafka.consumer({
    groupId: `bench-${prefix}`,
    maxWaitTimeInMs: 5,
    maxBytes: 64 * 1024 * 1024,
  });
  try {
    await admin.connect();
    await producer.connect();
    await migrate(pool, [...EVENT_STORE_MIGRATIONS, ...PLANNER_MIGRATIONS, ...API_MIGRATIONS]);
    await ensureTopics(admin, [{ name: topics.clusterEvents, partitions: 12, config: {} }]);

    // When each plan revision was complete on the plan topic (its last part), read from headers.
    const arrivals = new Map<number, number>();
    const startPlanner = async () => {
      planner = startApp('planner', { ...env, HTTP_PORT: '18282' });
      await waitFor('the planner to rebuild', () => planner!.output().includes('model rebuilt'), 300_000);
    };
    await startPlanner();
    await consumer.connect();
    await waitFor('the plan topic', async () => (await admin.listTopics()).includes(topics.plan), 30_000);
    await consumer.subscribe({ topic: topics.plan, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const h = message.headers ?? {};
        const part = Number(String(h.part));
        if (part === Number(String(h.parts)) - 1) arrivals.set(Number(String(h.revision)), performance.now());
      },
    });

    // The cluster as the ingester's first list records it, then published as it relays it.
    const cluster = syntheticCluster({ nodes: 5000, services: 10_000, endpointsPerService: 10, seed: 42 });
    const objects: KubeObject[] = [...cluster.nodes, ...cluster.services, ...cluster.slices];
    const ingested = new Ingested(store, producer, topics.clusterEvents);
    const record = (batch: readonly KubeObject[]) => ingested.record(batch);
    const recorded: RecordedEvent[] = [];
    for (let i = 0; i < objects.length; i += 5000)
      recorded.push(...(await record(objects.slice(i, i + 5000))));
    const publish = (events: readonly RecordedEvent[]) => ingested.publish(events);

    // --- Cold start: every object, no node at any revision yet.
    const coldStart = performance.now();
    for (let i = 0; i < recorded.length; i += 2000) await publish(recorded.slice(i, i + 2000));
    await waitFor(
      'the planner to fold the whole cluster',
      async () =>
        Number((await pool.query('SELECT count(*) AS n FROM planner_streams')).rows[0].n) >= objects.length,
      600_000,
    );
    const coldHead = await ledger.head();
    await waitFor('the cold plan on the topic', () => arrivals.has(coldHead), 600_000);
    figures['scale.coldStartSeconds'] = round((arrivals.get(coldHead)! - coldStart) / 1000, 1);
    figures['scale.coldPlannerPeakRssMiB'] = memoryOf(planner!.child.pid!).peakMiB;
    figures['scale.coldRevisions'] = coldHead;

    progress(figures);
    // --- One endpoint change after a quiet spell, and what each costs in bytes.
    const slices = new Map(cluster.slices.map((s) => [`${s.namespace}/${s.name}`, s]));
    const keys = [...slices.keys()];
    let flip = 0;
    const endpointChange = (): EndpointSlice => {
      const key = keys[(flip * 7919) % keys.length]!;
      const current = slices.get(key)!;
      const i = flip++;
      const next: EndpointSlice =
        current.endpoints.length > 10
          ? { ...current, endpoints: current.endpoints.slice(1) }
          : {
              ...current,
              endpoints: [
                ...current.endpoints,
                { ...current.endpoints[0]!, addresses: [`10.127.${(i >> 8) & 255}.${i & 255}`] },
              ],
            };
      slices.set(key, next);
      return next;
    };
    const waitNext = async (after: number, timeoutMs = 30_000) => {
      await waitFor('the next plan revision', () => arrivals.has(after + 1), timeoutMs);
      return arrivals.get(after + 1)!;
    };
    await sleep(2000);
    const ledgerBefore = await ledgerBytes(pool);
    const kafkaBefore = topicLogBytes(topics.plan);
    const oneChange: number[] = [];
    const samples = 60;
    for (let i = 0; i < samples; i++) {
      const head = await ledger.head();
      const [event] = await record([endpointChange()]);
      const t0 = performance.now();
      await publish([event!]);
      const arrived = await waitNext(head);
      oneChange.push(arrived - t0);
      await sleep(250);
    }
    oneChange.sort((a, b) => a - b);
    await sleep(1500);
    const ledgerPerChange = ((await ledgerBytes(pool)) - ledgerBefore) / samples;
    const kafkaPerChange = (topicLogBytes(topics.plan) - kafkaBefore) / samples;
    figures['scale.oneChangeP50Ms'] = round(percentile(oneChange, 50));
    figures['scale.oneChangeP99Ms'] = round(percentile(oneChange, 99));
    figures['scale.ledgerBytesPerChange'] = round(ledgerPerChange);
    figures['scale.kafkaBytesProducedPerChange'] = round(kafkaPerChange);
    // Every executor reads the plan topic and nothing else of the plan: one change's batches, compressed.
    figures['scale.executorBytesReadPerChange'] = round(kafkaPerChange);

    progress(figures);
    // --- Sustained churn: churnRate endpoint changes per second for churnSeconds.
    const published = new Map<string, number>();
    const rssAt = () => memoryOf(planner!.child.pid!).rssMiB;
    const churnStart = performance.now();
    const tick = 50;
    let sent = 0;
    let rssStart = 0;
    const churnHead = await ledger.head();
    const cpuBefore = cpuByComponent(planner!.child.pid!);
    while (performance.now() - churnStart < churnSeconds * 1000) {
      const due = Math.floor(((performance.now() - churnStart) / 1000) * churnRate);
      if (due > sent) {
        const events = await record(Array.from({ length: due - sent }, endpointChange));
        const now = performance.now();
        await publish(events);
        for (const e of events) published.set(e.eventId, now);
        sent = due;
      }
      if (rssStart === 0 && performance.now() - churnStart > Math.min(10_000, churnSeconds * 250))
        rssStart = rssAt();
      await sleep(tick);
    }
    const rssEnd = rssAt();
    const cpuAfter = cpuByComponent(planner!.child.pid!);
    // Delivered when the revision that folded the change is complete on the plan topic.
    const delivery = async () => {
      const { rows } = await pool.query<{ version: string; data: PlanChanged }>(
        'SELECT stream_version AS version, data FROM events WHERE stream_id = $1 AND stream_version > $2',
        ['plan', churnHead],
      );
      const revisionOf = new Map<string, number>();
      for (const r of rows) for (const c of r.data.causes) revisionOf.set(c.eventId, Number(r.version));
      return revisionOf;
    };
    let revisionOf = new Map<string, number>();
    const undelivered = () =>
      [...published.keys()].filter((id) => !arrivals.has(revisionOf.get(id) ?? -1)).length;
    const settleBy = Date.now() + 120_000;
    while (Date.now() < settleBy) {
      revisionOf = await delivery();
      if (undelivered() === 0) break;
      await sleep(500);
    }
    const churnLatency = [...published]
      .filter(([id]) => arrivals.has(revisionOf.get(id) ?? -1))
      .map(([id, t]) => arrivals.get(revisionOf.get(id)!)! - t)
      .sort((a, b) => a - b);
    figures['scale.churnChangesPerSec'] = churnRate;
    figures['scale.churnSeconds'] = churnSeconds;
    figures['scale.churnChanges'] = published.size;
    figures['scale.churnUndelivered'] = undelivered();
    // Latency per minute of churn: a backlog that grows shows here, a pause does not.
    const byMinute = new Map<number, number[]>();
    for (const [id, t] of published) {
      const at = arrivals.get(revisionOf.get(id) ?? -1);
      if (at === undefined) continue;
      const minute = Math.floor((t - churnStart) / 60_000);
      let latencies = byMinute.get(minute);
      if (!latencies) byMinute.set(minute, (latencies = []));
      latencies.push(at - t);
    }
    for (const [minute, latencies] of byMinute) {
      latencies.sort((a, b) => a - b);
      process.stderr.write(
        `scale: churn minute ${minute}: p50 ${round(percentile(latencies, 50))} ms, p99 ${round(percentile(latencies, 99))} ms\n`,
      );
    }
    figures['scale.churn1000P50Ms'] = round(percentile(churnLatency, 50));
    figures['scale.churn1000P99Ms'] = round(percentile(churnLatency, 99));
    figures['scale.churnRevisions'] = (await ledger.head()) - churnHead;
    figures['scale.churnPlannerRssGrowthMiB'] = round(rssEnd - rssStart, 1);
    // What a change costs each part, in CPU: this machine has 2,000 ms of it per second.
    for (const [part, ms] of Object.entries(cpuAfter))
      figures[`scale.churn${part[0]!.toUpperCase()}${part.slice(1)}CpuMsPerChange`] = round(
        (ms - cpuBefore[part]!) / published.size,
        3,
      );
    const slow = planner!.slowBatches.splice(0);
    process.stderr.write(`scale: ${slow.length} slow batches during churn\n`);
    for (const line of slow.slice(0, 40)) process.stderr.write(`scale:   ${line}\n`);

    progress(figures);
    // --- kill -9 of the planner, then the first change planned after its start.
    planner!.child.kill('SIGKILL');
    await once(planner!.child, 'exit');
    await sleep(500);
    const beforeRestart = await ledger.head();
    const restartAt = performance.now();
    planner = startApp('planner', { ...env, HTTP_PORT: '18282' });
    const [afterRestart] = await record([endpointChange()]);
    await publish([afterRestart!]);
    await waitNext(beforeRestart, 300_000);
    figures['scale.plannerRestartToPlanningSeconds'] = round(
      (arrivals.get(beforeRestart + 1)! - restartAt) / 1000,
      1,
    );
    // Where a restart's time goes, as the planner logs it (each output line timed from its start).
    const told = planner!
      .output()
      .match(/\[\+\d+ ms\][^\n]*(Starting Nest|model rebuilt|failed|error)[^\n"]*/gi);
    for (const line of told ?? ['(not logged)'])
      process.stderr.write(`scale: the planner after kill -9: ${line}\n`);

    progress(figures);
    // --- The API at this size: a node's state now and at a past revision, and the node list.
    await sleep(1000);
    api = startApp('api', {
      ...env,
      API_TOKENS: `${TOKEN}:reader`,
      API_STATUS_GROUP: `bench-${prefix}`,
      HTTP_PORT: '18280',
    });
    const apiStart = performance.now();
    await waitFor('the API to be ready', () => isReady(18280), 600_000);
    figures['scale.apiStartSeconds'] = round((performance.now() - apiStart) / 1000, 1);
    const timed = async (path: string, runs = 5): Promise<number> => {
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const res = await fetch(`http://127.0.0.1:18280${path}`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        });
        if (!res.ok) throw new Error(`bench: ${path} answered ${res.status}`);
        await res.arrayBuffer();
        times.push(performance.now() - t0);
      }
      return round(times.sort((a, b) => a - b)[Math.floor(times.length / 2)]!);
    };
    figures['scale.apiNodeStateMs'] = await timed('/v1/nodes/node-1234/state');
    figures['scale.apiNodeStatePastRevisionMs'] = await timed(
      `/v1/nodes/node-1234/state?revision=${churnHead}`,
      3,
    );
    figures['scale.apiNodeListMs'] = await timed('/v1/nodes');
    const rules = await fetch('http://127.0.0.1:18280/v1/nodes/node-1234/state', {
      headers: { authorization: `Bearer ${TOKEN}` },
    }).then((r) => r.json() as Promise<{ state: { chains: { rules: string[] }[] } }>);
    figures['scale.apiNodeStateRules'] = rules.state.chains.reduce((n, c) => n + c.rules.length, 0);

    progress(figures);
    // --- A new executor's first sync: its plan from the API, in memory, before any host apply.
    const t0 = performance.now();
    const snapshot = (await new ApiPlanSource({
      url: 'http://127.0.0.1:18280',
      token: TOKEN,
      node: 'node-4321',
      maxBytes: MAX_CHANGE_BYTES,
    }).latest())!;
    const book = new PlanBook({ revision: snapshot.change.revision - 1, only: 'node-4321' });
    book.apply(snapshot.change, (d) => snapshot.fragments.get(d));
    const desired = nodeStateOf(book.planOf('node-4321')!);
    figures['scale.executorColdSyncSeconds'] = round((performance.now() - t0) / 1000, 2);
    figures['scale.executorColdSyncRules'] = [...desired.chains.values()].reduce(
      (n, c) => n + c.rules.length,
      0,
    );

    progress(figures);
    // --- The executor process on a K8s-max node, from its start to ready: the API's snapshot,
    // the plan topic read on from its revision (older messages skipped by their header), its
    // node's state applied to a recording host (in memory, no kernel), then its resident memory
    // once idle; then restarted, from the plan it kept on the node.
    const executorEnv = {
      ...env,
      NODE_NAME: 'node-4321',
      EXECUTOR_BACKEND: 'recording',
      STATE_FILE: join(mkdtempSync(join(tmpdir(), 'nl-bench-executor-')), 'node-4321.json'),
      DRIFT_INTERVAL_MS: '0',
      HTTP_PORT: '18283',
      // As deploy/ runs it: the API's snapshot to start from, the topic read on from there.
      NETLEDGER_API: 'http://127.0.0.1:18280',
      NETLEDGER_TOKEN: TOKEN,
    };
    const executorReady = async () => {
      const started = performance.now();
      executor = startApp('executor', executorEnv);
      await waitFor('the executor to be ready', () => isReady(18283), 600_000);
      return round(performance.now() - started);
    };
    figures['executor.startToReadyMsK8sMax'] = await executorReady();
    await sleep(5000);
    figures['executor.idleRssMiBK8sMax'] = memoryOf(executor!.child.pid!).rssMiB;
    figures['executor.idleHeapUsedMiBK8sMax'] = await heapUsedMiB('http://127.0.0.1:18283/metrics');
    // A restart: the plan it kept on the node (written at shutdown) read back, the topic from there.
    const exited = once(executor!.child, 'exit');
    executor!.child.kill('SIGTERM');
    await exited;
    figures['executor.restartToReadyMsK8sMax'] = await executorReady();
    return figures;
  } finally {
    for (const app of [planner, api, executor]) {
      if (app && app.child.exitCode === null) {
        const exited = once(app.child, 'exit');
        app.child.kill('SIGTERM');
        await Promise.race([exited, sleep(30_000).then(() => app.child.kill('SIGKILL'))]);
      }
    }
    await consumer.disconnect().catch(() => undefined);
    await producer.disconnect().catch(() => undefined);
    const made = new Set(await admin.listTopics());
    await admin
      .deleteTopics({ topics: Object.values(topics).filter((t) => made.has(t)) })
      .catch(() => undefined);
    await admin.disconnect();
    await pool.end();
    await db.drop();
  }
}
