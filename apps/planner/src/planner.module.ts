import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { PostgresModule, KafkaModule } from '@netledger/service';

/** Folds cluster events into the model and publishes each node's desired-state diffs. */
@Module({ imports: [CqrsModule.forRoot(), PostgresModule, KafkaModule] })
export class PlannerModule {}
