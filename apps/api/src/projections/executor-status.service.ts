import {
  ConsoleLogger,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  disconnectWithin,
  ensureTopics,
  nodeStatusTopic,
  stallTimeout,
  subscribeWhenKnown,
  whenConsumerStops,
  type Unwatch,
} from '@netledger/messaging';
import { isDns1123Subdomain } from '@netledger/model';
import { KafkaConnection, Postgres, retryUntilDone } from '@netledger/service';
import type { Consumer } from 'kafkajs';
import { API_SETTINGS, type ApiSettings } from '../api-settings';

/** Keeps api_executor_status up to date from netledger.node-status (compacted: the latest per node). */
@Injectable()
export class ExecutorStatusService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new ConsoleLogger('executor-status');
  private consumer: Consumer | undefined;
  private unwatch: Unwatch | undefined;
  private stopping = false;
  /** KafkaJS's default session and rebalance timeouts: the status consumer sets neither. */
  private readonly stallMs: number;

  constructor(
    private readonly kafka: KafkaConnection,
    private readonly postgres: Postgres,
    @Inject(API_SETTINGS) private readonly settings: ApiSettings,
  ) {
    this.stallMs = stallTimeout(kafka.consumerStallMs, {});
  }

  async onApplicationBootstrap(): Promise<void> {
    const spec = nodeStatusTopic(this.settings.topicPrefix);
    const admin = this.kafka.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [spec]);
    } finally {
      await admin.disconnect();
    }
    await this.consume(spec.name);
  }

  /** A new consumer on node-status; made again whenever one stops or stalls. */
  private async consume(topic: string): Promise<void> {
    const consumer = this.kafka.kafka.consumer({ groupId: this.settings.statusGroup, maxWaitTimeInMs: 100 });
    this.consumer = consumer;
    this.unwatch = whenConsumerStops(
      consumer,
      (error) => {
        if (this.stopping) return;
        this.logger.error(`the node-status consumer stopped (${error.message}); starting another`);
        void this.consumeUntilStarted(topic);
      },
      { stalledAfterMs: this.stallMs },
    );
    await consumer.connect();
    await subscribeWhenKnown(consumer, { topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const node = message.key?.toString() ?? '';
        let status: Record<string, unknown>;
        try {
          status = JSON.parse(message.value?.toString() ?? 'null') as Record<string, unknown>;
        } catch {
          status = {};
        }
        // Only what an executor of a real node could have sent: anything else is dropped here.
        if (
          !isDns1123Subdomain(node) ||
          status?.node !== node ||
          typeof status.appliedRevision !== 'number'
        ) {
          this.logger.warn(
            `skipping a node-status message that is not a valid status (key ${JSON.stringify(node.slice(0, 80))})`,
          );
          return;
        }
        await this.postgres.pool.query(
          `INSERT INTO api_executor_status (node, status, updated_at) VALUES ($1, $2, now())
           ON CONFLICT (node) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at`,
          [node, JSON.stringify(status)],
        );
      },
    });
  }

  private consumeUntilStarted(topic: string): Promise<void> {
    return retryUntilDone(
      async () => {
        this.unwatch?.();
        await disconnectWithin(this.consumer, this.stallMs);
        await this.consume(topic);
      },
      {
        stopped: () => this.stopping,
        onFailure: (error) =>
          this.logger.warn(`node-status consumer: ${error instanceof Error ? error.message : String(error)}`),
      },
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.unwatch?.();
    await this.consumer?.disconnect();
  }
}
