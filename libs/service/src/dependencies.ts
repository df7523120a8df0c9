import { readFileSync } from 'node:fs';
import { Inject, Injectable, Module, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { createPool } from '@netledger/event-store';
import { createKafka, kafkaReachable, parseBrokers } from '@netledger/messaging';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { HealthRegistry } from './health';
import { SERVICE_CONFIG } from './tokens';
import type { ServiceConfig } from '@netledger/process';

/** The process's PostgreSQL pool, checked by readiness and closed on shutdown. */
@Injectable()
export class Postgres implements OnModuleInit, OnApplicationShutdown {
  readonly pool: Pool;

  constructor(
    @Inject(SERVICE_CONFIG) config: ServiceConfig,
    private readonly health: HealthRegistry,
  ) {
    const passwordFile = config.databasePasswordFile;
    this.pool = createPool(config.databaseUrl, {
      application_name: `netledger-${config.name}`,
      // Read at each connection: a rotated password is taken without a restart.
      ...(passwordFile ? { password: () => readFileSync(passwordFile, 'utf8').trim() } : {}),
    });
  }

  onModuleInit(): void {
    this.health.register({
      name: 'postgres',
      check: async () => {
        await this.pool.query('SELECT 1');
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}

/** The process's Kafka client; readiness asks the cluster to describe itself. */
@Injectable()
export class KafkaConnection implements OnModuleInit {
  readonly kafka: Kafka;
  /** How long a consumer may go without fetching before it is replaced. */
  readonly consumerStallMs: number;

  constructor(
    @Inject(SERVICE_CONFIG) config: ServiceConfig,
    private readonly health: HealthRegistry,
  ) {
    this.kafka = createKafka({
      brokers: parseBrokers(config.kafkaBrokers),
      clientId: `netledger-${config.name}`,
      security: config.kafkaSecurity,
    });
    this.consumerStallMs = config.kafkaConsumerStallMs;
  }

  onModuleInit(): void {
    this.health.register({
      name: 'kafka',
      check: () => kafkaReachable(this.kafka),
    });
  }
}

@Module({ providers: [Postgres], exports: [Postgres] })
export class PostgresModule {}

@Module({ providers: [KafkaConnection], exports: [KafkaConnection] })
export class KafkaModule {}
