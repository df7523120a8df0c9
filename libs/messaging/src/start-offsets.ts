import type { Consumer } from 'kafkajs';

export interface PartitionOffset {
  readonly partition: number;
  /** The next offset to read. */
  readonly offset: string;
}

/**
 * Makes a consumer of a group of its own start reading `topic` at offsets kept outside Kafka.
 * KafkaJS's admin `setOffsets` joins the group with a consumer of its own and waits for that
 * consumer's first fetch (up to its 5 s maxWaitTime): measured, it cost every planner restart
 * 5 s. Instead the seeks are queued when the consumer first joins, which KafkaJS reports before
 * it starts fetching; later rejoins keep the position the consumer has. Call before `run`.
 */
export function startAtOffsets(consumer: Consumer, topic: string, offsets: readonly PartitionOffset[]): void {
  if (offsets.length === 0) return;
  const remove = consumer.on(consumer.events.GROUP_JOIN, () => {
    remove();
    for (const { partition, offset } of offsets) consumer.seek({ topic, partition, offset });
  });
}
