import { Module, type DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { EventStoreModule, KafkaModule, OutboxRelayModule, PostgresModule } from '@netledger/service';
import { PlannerService } from './planning/planner.service';
import { PlannerStore } from './planning/planner-store';
import { PLANNER_MIGRATIONS } from './planner.migrations';
import { PLANNER_SETTINGS, readPlannerSettings } from './planner-settings';

/** Folds cluster events into the model and publishes each node's desired-state diffs. */
@Module({})
export class PlannerModule {
  static forRoot(env: Readonly<Record<string, string | undefined>> = process.env): DynamicModule {
    return {
      module: PlannerModule,
      imports: [
        CqrsModule.forRoot(),
        PostgresModule,
        KafkaModule,
        EventStoreModule.forRoot(PLANNER_MIGRATIONS),
        OutboxRelayModule,
      ],
      providers: [
        { provide: PLANNER_SETTINGS, useValue: readPlannerSettings(env) },
        PlannerStore,
        PlannerService,
      ],
      exports: [PlannerService],
    };
  }
}
