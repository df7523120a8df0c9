import { Module, type DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { topicNames } from '@netledger/messaging';
import { EventStoreModule, KafkaModule, OutboxRelayModule, PostgresModule } from '@netledger/service';
import { IngestObservationsHandler } from './ingest/ingest-observations.handler';
import { KubeSourceService } from './ingest/kube-source.service';
import { INGESTER_MIGRATIONS } from './ingester.migrations';
import { INGESTER_SETTINGS, readIngesterSettings } from './ingester-settings';

/** Watches the Kubernetes API and appends validated cluster events to the event store. */
@Module({})
export class IngesterModule {
  static forRoot(env: Readonly<Record<string, string | undefined>> = process.env): DynamicModule {
    const settings = readIngesterSettings(env);
    const topics = topicNames(settings.topicPrefix);
    return {
      module: IngesterModule,
      imports: [
        CqrsModule.forRoot(),
        PostgresModule,
        KafkaModule,
        EventStoreModule.forRoot(INGESTER_MIGRATIONS),
        OutboxRelayModule.forTopics({ topics: [topics.clusterEvents] }),
      ],
      providers: [
        { provide: INGESTER_SETTINGS, useValue: settings },
        IngestObservationsHandler,
        KubeSourceService,
      ],
    };
  }
}
