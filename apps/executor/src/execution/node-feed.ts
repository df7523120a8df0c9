import { randomBytes } from 'node:crypto';
import type { Kafka, Consumer } from 'kafkajs';
import {
  disconnectWithin,
  groupTimeouts,
  PlanAssembler,
  planMessageRevision,
  type PlanVerifier,
  stallTimeout,
  subscribeWhenKnown,
  whenConsumerStops,
  type ReceivedChange,
  type Unwatch,
} from '@netledger/messaging';
import { singlePartitionAssigner } from './single-partition-assigner';

/** What the feed hands over: changes while catching up, the moment it has caught up, live changes. */
export interface FeedHandlers {
  /** A change older than the topic's end when the feed started: fold it, the host waits. */
  readonly catchUp: (change: ReceivedChange, offset: bigint) => Promise<void>;
  /** Every change before the start's end has been handed over (at once when there were none). */
  readonly caughtUp: () => Promise<void>;
  /** A change after the start's end; `offset` is its last part's (where a restart goes on from). */
  readonly live: (change: ReceivedChange, offset: bigint) => Promise<void>;
  /** A message that is not (part of) a valid plan change; `revision` is what its header claims. */
  readonly invalid: (error: Error, offset: string, revision: number | undefined) => Promise<void>;
  /** The consumer stopped for good or stalled. */
  readonly stopped: (error: Error) => void;
}

/**
 * The executor's view of Kafka: the plan topic (every change is for every node), read from the
 * offset after the plan kept on the node when there is one and the topic still holds it, else
 * from its beginning. Each message's signature is checked first; parts of a change are put back
 * together and validated; changes the book already has (by the revision header) are skipped
 * without reading their value.
 */
export class NodeFeed {
  private consumer: Consumer | undefined;
  private unwatch: Unwatch | undefined;
  private readonly timeouts: ReturnType<typeof groupTimeouts>;
  private readonly stallMs: number;

  constructor(
    private readonly kafka: Kafka,
    private readonly node: string,
    private readonly topic: string,
    sessionTimeoutMs: number,
    consumerStallMs: number,
    /** Checks each message's signature before its value is read (undefined: signatures off). */
    private readonly verifier: PlanVerifier | undefined,
    /** A change larger than this is refused as its parts come (the executor's memory is bounded). */
    private readonly maxChangeBytes: number,
  ) {
    this.timeouts = groupTimeouts(sessionTimeoutMs);
    this.stallMs = stallTimeout(consumerStallMs, this.timeouts);
  }

  /**
   * Starts reading; `after` is the revision the executor already has (its snapshot's), `from`
   * the offset to go on from (the one after the kept plan's last part), if known.
   */
  async start(after: () => number, handlers: FeedHandlers, from?: bigint): Promise<void> {
    const { low, high: end } = await this.offsets();
    // An offset the topic no longer holds (retention) is not sought: from the beginning, the gap shows.
    const seek = from !== undefined && from >= low && from <= end ? from : undefined;
    const assembler = new PlanAssembler(this.node, this.maxChangeBytes);
    let caughtUp = end === (seek ?? low);
    if (caughtUp) await handlers.caughtUp();
    // A group of its own for each start: nothing is committed, the book is rebuilt every time.
    this.consumer = this.kafka.consumer({
      groupId: `netledger-executor-${this.node}-${randomBytes(4).toString('hex')}`,
      partitionAssigners: [singlePartitionAssigner(this.topic, 0)],
      maxWaitTimeInMs: 100,
      maxBytes: 64 * 1024 * 1024,
      ...this.timeouts,
    });
    this.unwatch = whenConsumerStops(this.consumer, handlers.stopped, { stalledAfterMs: this.stallMs });
    await this.consumer.connect();
    await subscribeWhenKnown(this.consumer, { topic: this.topic, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ message }) => {
        const revision = planMessageRevision(message.headers);
        const last = BigInt(message.offset) + 1n >= end;
        let change: ReceivedChange | undefined;
        if (revision === undefined || revision > after()) {
          try {
            this.verifier?.verify(message.headers, message.value);
            change = assembler.add(message.value);
          } catch (error) {
            await handlers.invalid(error as Error, message.offset, revision);
          }
        }
        if (change) {
          const offset = BigInt(message.offset);
          await (caughtUp ? handlers.live(change, offset) : handlers.catchUp(change, offset));
        }
        if (!caughtUp && last) {
          caughtUp = true;
          await handlers.caughtUp();
        }
      },
    });
    if (seek !== undefined) this.consumer.seek({ topic: this.topic, partition: 0, offset: String(seek) });
  }

  /** Stops consuming; a stalled consumer is given up on after a while rather than waited for. */
  async stop(): Promise<void> {
    this.unwatch?.();
    await disconnectWithin(this.consumer, this.stallMs);
  }

  /** The plan topic's first and end offsets now (the end is what "caught up" means for this start). */
  private async offsets(): Promise<{ low: bigint; high: bigint }> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const offsets = (await admin.fetchTopicOffsets(this.topic)).find((o) => o.partition === 0);
      return { low: BigInt(offsets?.low ?? '0'), high: BigInt(offsets?.high ?? '0') };
    } finally {
      await admin.disconnect();
    }
  }
}
