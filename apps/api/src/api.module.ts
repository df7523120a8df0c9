import { Module, type DynamicModule } from '@nestjs/common';
import { CqrsModule } from '@nestjs/cqrs';
import { loadKubeConfig } from '@netledger/kube';
import { EventStoreModule, KafkaModule, PostgresModule } from '@netledger/service';
import { API_MIGRATIONS } from './api.migrations';
import { API_SETTINGS, readApiSettings } from './api-settings';
import { AuditController } from './http/audit.controller';
import { AuditQueries } from './http/audit-queries';
import { BearerAuthGuard, TOKEN_REVIEWER } from './http/auth.guard';
import { TokenReviewer } from './http/token-review';
import { NodeQueries } from './http/node-queries';
import { NodesController } from './http/nodes.controller';
import { OpenApiController } from './http/openapi.controller';
import { PlanController } from './http/plan.controller';
import { ExecutorStatusService } from './projections/executor-status.service';
import { PlanViewService } from './projections/plan-view.service';
import { ProjectorService } from './projections/projector.service';

/** The read side: node state now and at any revision, diffs, executor status, audit. */
@Module({})
export class ApiModule {
  static forRoot(env: Readonly<Record<string, string | undefined>> = process.env): DynamicModule {
    const settings = readApiSettings(env);
    return {
      module: ApiModule,
      imports: [CqrsModule.forRoot(), PostgresModule, KafkaModule, EventStoreModule.forRoot(API_MIGRATIONS)],
      controllers: [NodesController, PlanController, AuditController, OpenApiController],
      providers: [
        { provide: API_SETTINGS, useValue: settings },
        {
          provide: TOKEN_REVIEWER,
          useValue:
            settings.tokenReview && new TokenReviewer(loadKubeConfig(env.KUBECONFIG), settings.tokenReview),
        },
        BearerAuthGuard,
        NodeQueries,
        AuditQueries,
        PlanViewService,
        ProjectorService,
        ExecutorStatusService,
      ],
      exports: [ProjectorService],
    };
  }
}
