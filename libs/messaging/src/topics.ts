import type { Admin, Consumer, ITopicConfig } from 'kafkajs';

/** A topic Netledger owns, with the settings it is created with. */
export interface TopicSpec {
  readonly name: string;
  readonly partitions: number;
  readonly config: Readonly<Record<string, string>>;
}

/** Names of Netledger's topics; `prefix` isolates tests and side-by-side installs. */
export function topicNames(prefix = 'netledger') {
  return {
    clusterEvents: `${prefix}.cluster-events`,
    plan: `${prefix}.plan`,
    nodeStatus: `${prefix}.node-status`,
  } as const;
}

/**
 * plan: every plan change once, for every executor (see plan-messages). One partition: changes
 * are totally ordered and every executor reads them all, so there is nothing to key them by.
 */
export function planTopic(prefix = 'netledger', retentionMs = 7 * 24 * 3600 * 1000): TopicSpec {
  return {
    name: topicNames(prefix).plan,
    partitions: 1,
    config: { 'retention.ms': String(retentionMs), 'max.message.bytes': String(4 * 1024 * 1024) },
  };
}

/** node-status: each executor's latest report, keyed by node (written by executors, read by the api). */
export function nodeStatusTopic(prefix = 'netledger'): TopicSpec {
  return { name: topicNames(prefix).nodeStatus, partitions: 6, config: { 'cleanup.policy': 'compact' } };
}

/**
 * Creates the topics that do not exist yet and leaves existing ones alone (a topic's partition
 * count is never changed behind the consumers' back). Returns the names it created.
 */
export async function ensureTopics(admin: Admin, specs: readonly TopicSpec[]): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = specs.filter((s) => !existing.has(s.name));
  if (missing.length === 0) return [];
  const topics: ITopicConfig[] = missing.map((s) => ({
    topic: s.name,
    numPartitions: s.partitions,
    replicationFactor: -1,
    configEntries: Object.entries(s.config).map(([name, value]) => ({ name, value })),
  }));
  await admin.createTopics({ topics, waitForLeaders: false });
  await waitForLeaders(
    admin,
    missing.map((s) => s.name),
  );
  return missing.map((s) => s.name);
}

// Errors a broker gives for a topic it has created but not yet taken into its metadata.
const NOT_YET = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE']);

/**
 * Waits until every partition of the topics has a leader. KafkaJS's own `waitForLeaders` gives up
 * on UNKNOWN_TOPIC_OR_PARTITION, which a KRaft broker (Kafka 4) answers for a moment after it
 * created a topic; here that only means "not yet".
 */
export async function waitForLeaders(
  admin: Admin,
  names: readonly string[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [...names] });
      const ready = topics.every(
        (t) =>
          t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0 && p.partitionErrorCode === 0),
      );
      if (ready && topics.length === names.length) return;
    } catch (error) {
      if (!NOT_YET.has((error as { type?: string }).type ?? '')) throw error;
    }
    if (Date.now() > deadline) {
      throw new Error(`Kafka topics ${names.join(', ')} have no leaders after ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Subscribes once the broker knows the topic. A KRaft broker can answer UNKNOWN_TOPIC_OR_PARTITION
 * for a topic another client has just created (seen on a cold broker in the demo: the planner
 * exited when it subscribed to cluster-events right after the ingester made it); KafkaJS's
 * subscribe does not retry that.
 */
export async function subscribeWhenKnown(
  consumer: Consumer,
  subscription: { topic: string; fromBeginning: boolean },
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await consumer.subscribe(subscription);
      return;
    } catch (error) {
      if (!NOT_YET.has((error as { type?: string }).type ?? '') || Date.now() > deadline) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
