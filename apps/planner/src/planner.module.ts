import { Module, type DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { topicNames } from '@netledger/messaging';
import { EventStoreModule, KafkaModule, OutboxRelayModule, PostgresModule } from '@netledger/service';
import { LedgerRetention } from './planning/ledger-retention';
import { PlannerService } from './planning/planner.service';
import { planMessagesFromLedger } from './planning/plan-messages-from-ledger';
import { PlannerStore } from './planning/planner-store';
import { PLANNER_MIGRATIONS } from './planner.migrations';
import { PLANNER_SETTINGS, readPlannerSettings } from './planner-settings';

/** Folds cluster events into the model and records and publishes each change of the plan once. */
@Module({})
export class PlannerModule {
  static forRoot(env: Readonly<Record<string, string | undefined>> = process.env): DynamicModule {
    const settings = readPlannerSettings(env);
    const topics = topicNames(settings.topicPrefix);
    return {
      module: PlannerModule,
      imports: [
        CqrsModule.forRoot(),
        PostgresModule,
        KafkaModule,
        EventStoreModule.forRoot(PLANNER_MIGRATIONS),
        OutboxRelayModule.forTopics({
          topics: [topics.plan],
          offers: true,
          expand: planMessagesFromLedger(topics.plan, settings.signer),
        }),
      ],
      providers: [
        { provide: PLANNER_SETTINGS, useValue: settings },
        PlannerStore,
        PlannerService,
        LedgerRetention,
      ],
      exports: [PlannerService, LedgerRetention],
    };
  }
}
