import {
  ConsoleLogger,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { OutboxRelay } from '@netledger/event-store';
import { KafkaOutboxPublisher } from '@netledger/messaging';
import { Counter, Gauge } from 'prom-client';
import { KafkaConnection, KafkaModule, Postgres, PostgresModule } from './dependencies';
import { Metrics } from './metrics';

/**
 * Runs the outbox relay in this process. Every process that writes the outbox runs one; an
 * advisory lock keeps exactly one of them publishing at a time.
 */
@Injectable()
export class OutboxRelayService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new ConsoleLogger('outbox-relay');
  private readonly publisher: KafkaOutboxPublisher;
  private readonly relay: OutboxRelay;

  constructor(postgres: Postgres, kafka: KafkaConnection, metrics: Metrics) {
    const published = new Counter({
      name: 'netledger_outbox_published_total',
      help: 'Outbox messages published to Kafka.',
      registers: [metrics.registry],
    });
    const lag = new Gauge({
      name: 'netledger_outbox_publish_lag_seconds',
      help: 'Age of the oldest message in the last published batch.',
      registers: [metrics.registry],
    });
    this.publisher = new KafkaOutboxPublisher(kafka.kafka);
    this.relay = new OutboxRelay(postgres.pool, this.publisher, {
      pollMs: 200,
      onError: (error) =>
        this.logger.warn(`relay: ${error instanceof Error ? error.message : String(error)}`),
      onPublished: (count, oldest) => {
        published.inc(count);
        if (oldest) lag.set((Date.now() - oldest.getTime()) / 1000);
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.relay.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.relay.stop();
    await this.publisher.close();
  }
}

@Module({ imports: [PostgresModule, KafkaModule], providers: [OutboxRelayService] })
export class OutboxRelayModule {}
