import type { Admin, ITopicConfig } from 'kafkajs';

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
    nodeDiffs: `${prefix}.node-diffs`,
    nodeSnapshots: `${prefix}.node-snapshots`,
    nodeStatus: `${prefix}.node-status`,
  } as const;
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
  await admin.createTopics({ topics, waitForLeaders: true });
  return missing.map((s) => s.name);
}
