import { randomBytes } from 'node:crypto';
import type { Kafka, Consumer } from 'kafkajs';
import {
  decodeDiffBody,
  decodeEventMessage,
  diffBodyKeyDigest,
  disconnectWithin,
  groupTimeouts,
  isDiffBodyKey,
  partitionForKey,
  stallTimeout,
  subscribeWhenKnown,
  whenConsumerStops,
  type Unwatch,
} from '@netledger/messaging';
import type { NodeDiff, NodeSnapshot, NodeStateChanged } from '@netledger/model';
import { singlePartitionAssigner } from './single-partition-assigner';
import type { IncomingRevision } from './node-executor';

/** Raw diff bodies met on the partition, by digest; only the recent ones matter. */
class BodyCache {
  private readonly bodies = new Map<string, Buffer>();
  constructor(private readonly size: number) {}
  put(digest: string, raw: Buffer): void {
    this.bodies.delete(digest);
    this.bodies.set(digest, raw);
    if (this.bodies.size > this.size) this.bodies.delete(this.bodies.keys().next().value!);
  }
  take(digest: string): NodeDiff | undefined {
    const raw = this.bodies.get(digest);
    return raw ? decodeDiffBody(raw).diff : undefined;
  }
}

/**
 * The executor's view of Kafka: its own partition of node-diffs (other nodes' messages are skipped
 * by key, undecoded; diff bodies are kept raw until a revision of this node names one), and the
 * latest snapshot of its node from node-snapshots.
 */
export class NodeFeed {
  private consumer: Consumer | undefined;
  private unwatch: Unwatch | undefined;
  private readonly bodies = new BodyCache(256);
  private readonly timeouts: ReturnType<typeof groupTimeouts>;
  private readonly stallMs: number;

  constructor(
    private readonly kafka: Kafka,
    private readonly node: string,
    private readonly topics: { nodeDiffs: string; nodeSnapshots: string },
    sessionTimeoutMs: number,
    consumerStallMs: number,
  ) {
    this.timeouts = groupTimeouts(sessionTimeoutMs);
    this.stallMs = stallTimeout(consumerStallMs, this.timeouts);
  }

  async start(
    onRevision: (revision: IncomingRevision | { missingBody: NodeStateChanged }) => Promise<void>,
    onStopped: (error: Error) => void,
  ): Promise<void> {
    const partition = await this.partitionOf(this.topics.nodeDiffs);
    this.consumer = this.kafka.consumer({
      groupId: `netledger-executor-${this.node}`,
      partitionAssigners: [singlePartitionAssigner(this.topics.nodeDiffs, partition)],
      maxWaitTimeInMs: 100,
      ...this.timeouts,
    });
    this.unwatch = whenConsumerStops(this.consumer, onStopped, { stalledAfterMs: this.stallMs });
    await this.consumer.connect();
    await subscribeWhenKnown(this.consumer, { topic: this.topics.nodeDiffs, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        const key = message.key?.toString();
        if (isDiffBodyKey(key)) {
          this.bodies.put(diffBodyKeyDigest(key!), message.value!);
          return;
        }
        if (key !== this.node) return; // another node's revision: not even decoded
        const data = decodeEventMessage(message.value).data as NodeStateChanged;
        const diff = this.bodies.take(data.diffDigest);
        if (!diff) return onRevision({ missingBody: data });
        const { diffDigest: _d, ...rest } = data;
        await onRevision({ ...rest, diff });
      },
    });
  }

  /** Stops consuming; a stalled consumer is given up on after a while rather than waited for. */
  async stop(): Promise<void> {
    this.unwatch?.();
    await disconnectWithin(this.consumer, this.stallMs);
  }

  /** The last snapshot of this node on node-snapshots (its partition read to the end), if any. */
  async latestSnapshot(): Promise<NodeSnapshot | undefined> {
    const topic = this.topics.nodeSnapshots;
    const partition = await this.partitionOf(topic);
    const admin = this.kafka.admin();
    await admin.connect();
    let high: bigint;
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      high = BigInt(offsets.find((o) => o.partition === partition)?.high ?? '0');
    } finally {
      await admin.disconnect();
    }
    if (high === 0n) return undefined;
    const consumer = this.kafka.consumer({
      groupId: `netledger-snapshot-${this.node}-${randomBytes(4).toString('hex')}`,
      partitionAssigners: [singlePartitionAssigner(topic, partition)],
      maxWaitTimeInMs: 100,
      maxBytes: 64 * 1024 * 1024,
    });
    let latest: NodeSnapshot | undefined;
    await consumer.connect();
    try {
      await subscribeWhenKnown(consumer, { topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('reading node-snapshots timed out')), 60_000);
        consumer
          .run({
            eachMessage: async ({ message }) => {
              if (message.key?.toString() === this.node && message.value)
                latest = JSON.parse(message.value.toString()) as NodeSnapshot;
              if (BigInt(message.offset) + 1n >= high) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
    }
    return latest;
  }

  private async partitionOf(topic: string): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      return partitionForKey(this.node, meta.topics[0]!.partitions.length);
    } finally {
      await admin.disconnect();
    }
  }
}
