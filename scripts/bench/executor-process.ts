import { readKafkaSecurity } from '@netledger/process';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createKafka,
  encodePlanChange,
  ensureTopics,
  parseBrokers,
  planTopic,
  PlanSigner,
  signPlanMessages,
} from '@netledger/messaging';
import { DEFAULT_PROXY_CONFIG } from '@netledger/model';
import { NetworkPlanner, PlanRecorder } from '@netledger/planner-core';
import { Partitioners } from 'kafkajs';
import { appEntry } from '../../test/support/app-entry';
import { syntheticCluster } from '../../test/support/synthetic-cluster';
import { heapUsedMiB, memoryOf, waitFor } from './processes';
import { kafkaEnv } from '../../test/support/kafka-env';
import { testPlanKeys } from '../../test/support/plan-keys';
import { isReady } from '../../test/support/readiness';

/*
 * The executor as it ships (the bundled file), on a node of a 100-service cluster: the plan on
 * a real plan topic, as the planner publishes it; the executor applies it to a recording host
 * (the kernel's part is the executor section's). From its start to ready (caught up, plan
 * known, state applied), its resident memory once idle, and a restart with the plan kept on the
 * node.
 */
export async function benchExecutorProcess(): Promise<Record<string, number>> {
  const brokers = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';
  const prefix = `bench-ex-${randomUUID().slice(0, 8)}`;
  const kafka = createKafka({
    brokers: parseBrokers(brokers),
    clientId: 'netledger-bench',
    security: readKafkaSecurity(),
  });
  const cluster = syntheticCluster({ nodes: 20, services: 100, endpointsPerService: 10, seed: 7 });
  const model = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.64.0.0/10'] });
  for (const o of [...cluster.nodes, ...cluster.services, ...cluster.slices]) model.upsert(o);
  const { change, fragments } = new PlanRecorder().record(model, model.takeChanges())!;
  const keys = testPlanKeys();
  const signer = PlanSigner.fromFile(keys.PLAN_SIGNING_KEY_FILE);

  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await admin.connect();
  await producer.connect();
  try {
    const topic = planTopic(prefix);
    await ensureTopics(admin, [topic]);
    await producer.send({
      topic: topic.name,
      acks: -1,
      messages: signPlanMessages(encodePlanChange(change, fragments), signer).map((m) => ({
        ...m,
        partition: 0,
      })),
    });
    const stateFile = join(mkdtempSync(join(tmpdir(), 'nl-bench-executor-')), 'node.json');
    const node = cluster.nodes[3]!.name;
    const first = await startToReady(node, prefix, brokers, stateFile, keys.PLAN_VERIFY_KEYS);
    await new Promise((r) => setTimeout(r, 5000));
    const rssMiB = memoryOf(first.child.pid!).rssMiB;
    const heapMiB = await heapUsedMiB('http://127.0.0.1:18290/metrics');
    await stop(first.child);
    // A restart: the plan kept on the node (written at shutdown), the topic read from there.
    const again = await startToReady(node, prefix, brokers, stateFile, keys.PLAN_VERIFY_KEYS);
    await stop(again.child);
    return {
      'executor.startToReadyMs100Services': Math.round(first.ms),
      'executor.idleRssMiB100Services': rssMiB,
      'executor.idleHeapUsedMiB100Services': heapMiB,
      'executor.restartToReadyMs100Services': Math.round(again.ms),
    };
  } finally {
    await admin.deleteTopics({ topics: [planTopic(prefix).name] }).catch(() => undefined);
    await admin.disconnect();
    await producer.disconnect();
  }
}

async function startToReady(
  node: string,
  prefix: string,
  brokers: string,
  stateFile: string,
  planKeys: string,
): Promise<{ child: ChildProcess; ms: number }> {
  const port = 18_290;
  const started = performance.now();
  const child = spawn(process.execPath, [appEntry('executor')], {
    env: {
      PATH: process.env.PATH,
      NODE_NAME: node,
      KAFKA_BROKERS: brokers,
      ...kafkaEnv(),
      NETLEDGER_TOPIC_PREFIX: prefix,
      EXECUTOR_BACKEND: 'recording',
      STATE_FILE: stateFile,
      PLAN_VERIFY_KEYS: planKeys,
      DRIFT_INTERVAL_MS: '0',
      HTTP_PORT: String(port),
      LOG_FORMAT: 'json',
    },
    stdio: 'ignore',
  });
  await waitFor('the executor to be ready', () => isReady(port), 60_000);
  return { child, ms: performance.now() - started };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}
