import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { PostgresModule, KafkaModule } from '@netledger/service';

/** Watches the Kubernetes API and appends validated cluster events to the event store. */
@Module({ imports: [CqrsModule.forRoot(), PostgresModule, KafkaModule] })
export class IngesterModule {}
