import { Module, type DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { EventStoreModule, KafkaModule, OutboxRelayModule, PostgresModule } from '@netledger/service';
import { IngestObservationsHandler } from './ingest/ingest-observations.handler';
import { KubeSourceService } from './ingest/kube-source.service';
import { INGESTER_MIGRATIONS } from './ingester.migrations';
import { INGESTER_SETTINGS, readIngesterSettings } from './ingester-settings';

/** Watches the Kubernetes API and appends validated cluster events to the event store. */
@Module({})
export class IngesterModule {
  static forRoot(env: Readonly<Record<string, string | undefined>> = process.env): DynamicModule {
    return {
      module: IngesterModule,
      imports: [
        CqrsModule.forRoot(),
        PostgresModule,
        KafkaModule,
        EventStoreModule.forRoot(INGESTER_MIGRATIONS),
        OutboxRelayModule,
      ],
      providers: [
        { provide: INGESTER_SETTINGS, useValue: readIngesterSettings(env) },
        IngestObservationsHandler,
        KubeSourceService,
      ],
    };
  }
}
