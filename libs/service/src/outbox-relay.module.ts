import { createHash } from 'node:crypto';
import {
  ConsoleLogger,
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { OutboxRelay, type OfferedOutboxRow, type OutboxMessage } from '@netledger/event-store';
import type { Pool } from 'pg';
import { KafkaOutboxPublisher } from '@netledger/messaging';
import { KafkaConnection, KafkaModule, Postgres, PostgresModule } from './dependencies';
import { Metrics } from './metrics';

/** Which outbox rows this process relays: the topics it writes. */
export interface OutboxRelaySettings {
  readonly topics: readonly string[];
  /** The process offers each batch it commits (`OutboxRelayService.offer`); see OutboxRelay. */
  readonly offers?: boolean;
  /** Builds the messages of rows read back from the table (see OutboxRelayOptions.expand). */
  readonly expand?: (pool: Pool) => (messages: OutboxMessage[]) => Promise<OutboxMessage[]>;
}

const OUTBOX_RELAY_SETTINGS = Symbol('OUTBOX_RELAY_SETTINGS');

/** One advisory lock per set of topics: one relay publishes them, whichever process it is in. */
function lockKeyFor(topics: readonly string[]): number {
  return createHash('sha256')
    .update([...topics].sort().join('\n'))
    .digest()
    .readInt32BE(0);
}

/**
 * Runs the outbox relay for the topics this process writes. Every process that writes them runs
 * one; an advisory lock keeps exactly one of them publishing at a time.
 */
@Injectable()
export class OutboxRelayService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new ConsoleLogger('outbox-relay');
  private readonly publisher: KafkaOutboxPublisher;
  private readonly relay: OutboxRelay;

  constructor(
    postgres: Postgres,
    kafka: KafkaConnection,
    metrics: Metrics,
    @Inject(OUTBOX_RELAY_SETTINGS) settings: OutboxRelaySettings,
  ) {
    const published = metrics.counter({
      name: 'netledger_outbox_published_total',
      help: 'Outbox messages published to Kafka.',
    });
    const lag = metrics.gauge({
      name: 'netledger_outbox_publish_lag_seconds',
      help: 'Age of the oldest message in the last published batch.',
    });
    this.publisher = new KafkaOutboxPublisher(kafka.kafka);
    this.relay = new OutboxRelay(postgres.pool, this.publisher, {
      // With offers, reading the table is only the fallback.
      pollMs: settings.offers ? 1000 : 200,
      topics: settings.topics,
      offers: settings.offers ?? false,
      lockKey: lockKeyFor(settings.topics),
      ...(settings.expand ? { expand: settings.expand(postgres.pool) } : {}),
      onError: (error) =>
        this.logger.warn(`relay: ${error instanceof Error ? error.message : String(error)}`),
      onPublished: (count, oldest) => {
        published.inc(count);
        if (oldest) lag.set((Date.now() - oldest.getTime()) / 1000);
      },
    });
  }

  /** Rows this process has just committed: published without being read back. */
  offer(rows: readonly OfferedOutboxRow[]): void {
    this.relay.offer(rows);
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.relay.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.relay.stop();
    await this.publisher.close();
  }
}

@Module({})
export class OutboxRelayModule {
  static forTopics(settings: OutboxRelaySettings): DynamicModule {
    return {
      module: OutboxRelayModule,
      imports: [PostgresModule, KafkaModule],
      providers: [{ provide: OUTBOX_RELAY_SETTINGS, useValue: settings }, OutboxRelayService],
      exports: [OutboxRelayService],
    };
  }
}
