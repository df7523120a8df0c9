import { Module } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { KafkaModule } from '@netledger/service';

/** Applies its node's diffs to the host and reports back. */
@Module({ imports: [CqrsModule.forRoot(), KafkaModule] })
export class ExecutorModule {}
