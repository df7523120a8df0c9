import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { PostgresModule, KafkaModule } from '@netledger/service';

/** The read side: node state now and at any revision, diffs, executor status, audit. */
@Module({ imports: [CqrsModule.forRoot(), PostgresModule, KafkaModule] })
export class ApiModule {}
