import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { kubeConfigFor } from '@netledger/kube';
import { decodeDiffBody, decodeEventMessage, isDiffBodyKey, topicNames } from '@netledger/messaging';
import {
  DEFAULT_OVERLAY_CONFIG,
  DEFAULT_PROXY_CONFIG,
  EMPTY_NODE_STATE,
  validateObject,
  type NodeDiff,
  type NodeRevisionWithDiff,
  type NodeState,
  type NodeStateChanged,
} from '@netledger/model';
import { applyNodeDiff, NetworkPlanner, nodeStateOf } from '@netledger/planner-core';
import { FakeApiServer } from './fake-apiserver';
import { createTestDatabase, testKafka, uniqueSuffix } from './services';
import { type TopicReader } from './kafka-reader';

export const READER_TOKEN = 'reader-token-0123456789abcdef';
export const ADMIN_TOKEN = 'admin-token-0123456789abcdef0';

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
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: inject('kafkaBrokers'),
    KUBECONFIG: kubeconfig,
    NETLEDGER_TOPIC_PREFIX: prefix,
    CLUSTER_EVENTS_PARTITIONS: '4',
    NODE_DIFFS_PARTITIONS: '4',
    PLANNER_GROUP: `planner-${prefix}`,
    // A killed planner leaves its consumer group quickly, so restarts are not held up.
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    API_TOKENS: `${READER_TOKEN}:reader,${ADMIN_TOKEN}:admin`,
    API_STATUS_GROUP: `api-${prefix}`,
    HTTP_PORT: '0',
    LOG_FORMAT: 'text',
  };
  const kafka = testKafka();
  return {
    db,
    apiserver,
    env,
    kafka,
    topics: topicNames(prefix),
    async close() {
      await apiserver.stop();
      await db.drop();
    },
  };
}

/**
 * Node revisions read from node-diffs, their diffs resolved against the bodies met before them on
 * the same partition: per node, deduplicated by revision, in revision order.
 */
export function revisionsByNode(reader: TopicReader): Map<string, NodeRevisionWithDiff[]> {
  const out = new Map<string, Map<number, NodeRevisionWithDiff>>();
  const bodies = new Map<string, NodeDiff>();
  for (const m of reader.messages) {
    if (isDiffBodyKey(m.key)) {
      const body = decodeDiffBody(m.value);
      bodies.set(`${m.partition}/${body.digest}`, body.diff);
      continue;
    }
    const { diffDigest, ...rest } = decodeEventMessage(m.value).data as NodeStateChanged;
    const diff = bodies.get(`${m.partition}/${diffDigest}`);
    if (!diff) {
      const seen = [...bodies.keys()].filter((k) => k.endsWith(diffDigest)).join(', ');
      throw new Error(
        `revision ${rest.revision} of ${rest.node} (partition ${m.partition}) arrived before its diff body (seen: ${seen || 'nowhere'})`,
      );
    }
    const byRevision = out.get(rest.node) ?? new Map<number, NodeRevisionWithDiff>();
    byRevision.set(rest.revision, { ...rest, diff });
    out.set(rest.node, byRevision);
  }
  return new Map(
    [...out].map(([node, revisions]) => [
      node,
      [...revisions.values()].sort((a, b) => a.revision - b.revision),
    ]),
  );
}

/** A node's state after applying its revisions in order to the empty state (checking the chain). */
export function replay(revisions: readonly NodeRevisionWithDiff[]): NodeState {
  let state = EMPTY_NODE_STATE;
  revisions.forEach((r, i) => {
    if (r.revision !== i + 1 || r.baseRevision !== i)
      throw new Error(`revision chain broken at ${r.node} #${r.revision} (base ${r.baseRevision})`);
    state = applyNodeDiff(state, r.diff);
  });
  return state;
}

/** The from-scratch plan of every node of the apiserver's current objects. */
export function planFromScratch(
  objects: readonly Record<string, unknown>[],
  proxy = { ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] },
): Map<string, NodeState> {
  const planner = new NetworkPlanner(proxy, DEFAULT_OVERLAY_CONFIG);
  for (const raw of objects) {
    try {
      planner.upsert(validateObject(raw));
    } catch {
      // rejected objects never reach the planner
    }
  }
  return new Map(planner.nodeNames().map((n) => [n, nodeStateOf(planner.planNode(n))]));
}
