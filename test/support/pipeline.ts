import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { kubeConfigFor } from '@netledger/kube';
import { PlanAssembler, PlanVerifier, topicNames } from '@netledger/messaging';
import {
  DEFAULT_OVERLAY_CONFIG,
  DEFAULT_PROXY_CONFIG,
  validateObject,
  type NodeState,
  type OverlayConfig,
} from '@netledger/model';
import { NetworkPlanner, nodeStateOf, PlanBook } from '@netledger/planner-core';
import { FakeApiServer } from './fake-apiserver';
import { createTestDatabase, testKafka, uniqueSuffix } from './services';
import { type TopicReader } from './kafka-reader';
import { kafkaEnv } from './kafka-env';
import { testPlanKeys } from './plan-keys';

export const READER_TOKEN = 'reader-token-0123456789abcdef';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef0';
/** node-a's executor token: it reads node-a's plan and state, nothing else. */
export const NODE_A_TOKEN = 'node-a-token-0123456789abcdef';

/**
 * The pieces a cross-service test needs: a database of its own, topics of its own (a prefix), an
 * apiserver stand-in with a kubeconfig for it, and the environment the apps read.
 */
export async function testPipeline() {
  const db = await createTestDatabase();
  const apiserver = new FakeApiServer({ token: 'pipeline', bookmarkMs: 100 });
  const url = await apiserver.start();
  const kubeconfig = join(mkdtempSync(join(tmpdir(), 'nl-pipeline-')), 'kubeconfig');
  writeFileSync(kubeconfig, kubeConfigFor(url, 'pipeline').exportConfig());
  const prefix = `test-${uniqueSuffix()}`;
  const keys = testPlanKeys();
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: inject('kafkaBrokers'),
    ...kafkaEnv(),
    KUBECONFIG: kubeconfig,
    NETLEDGER_TOPIC_PREFIX: prefix,
    CLUSTER_EVENTS_PARTITIONS: '4',
    PLANNER_GROUP: `planner-${prefix}`,
    // A killed planner leaves its consumer group quickly, so restarts are not held up.
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    API_TOKENS: `${READER_TOKEN}:reader,${ADMIN_TOKEN}:admin,${NODE_A_TOKEN}:node:node-a`,
    API_STATUS_GROUP: `api-${prefix}`,
    HTTP_PORT: '0',
    LOG_FORMAT: 'text',
    ...keys,
  };
  const kafka = testKafka();
  return {
    db,
    apiserver,
    env,
    keys,
    kafka,
    topics: topicNames(prefix),
    async close() {
      await apiserver.stop();
      await db.drop();
    },
  };
}

/**
 * The plan as a consumer of the plan topic rebuilds it: every message's signature checked with
 * the planner's public keys (`planKeys`), every change put together from its parts and applied in
 * order (a change sent again is skipped). Throws on a gap or a message the planner did not sign.
 */
export function planFromTopic(reader: TopicReader, planKeys: string): PlanBook {
  const book = new PlanBook();
  const assembler = new PlanAssembler();
  const verifier = PlanVerifier.fromFiles([planKeys]);
  for (const m of reader.messages) {
    verifier.verify(m.headers, Buffer.from(m.value));
    const received = assembler.add(m.value);
    if (!received || received.change.revision <= book.revision) continue;
    book.apply(received.change, (d) => received.fragments.get(d));
  }
  return book;
}

/** Every node's state in a plan (a node without a manifest has none). */
export function nodeStates(book: PlanBook): Map<string, NodeState> {
  return new Map(book.nodeNames().map((n) => [n, book.stateOf(n)]));
}

/** One node's state in a plan, empty when it has no manifest. */
export const nodeStateIn = (book: PlanBook, node: string): NodeState => book.stateOf(node);

/** The from-scratch plan of every node of the apiserver's current objects. */
export function planFromScratch(
  objects: readonly Record<string, unknown>[],
  proxy = { ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] },
  overlay: OverlayConfig = DEFAULT_OVERLAY_CONFIG,
): Map<string, NodeState> {
  const planner = new NetworkPlanner(proxy, overlay);
  for (const raw of objects) {
    try {
      planner.upsert(validateObject(raw));
    } catch {
      // rejected objects never reach the planner
    }
  }
  return new Map(planner.nodeNames().map((n) => [n, nodeStateOf(planner.planNode(n))]));
}
