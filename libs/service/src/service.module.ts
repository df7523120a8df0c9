import { Global, Module, type DynamicModule } from '@nestjs/common';
import { HealthController, HealthRegistry } from './health';
import { Metrics, MetricsController } from './metrics';
import type { ServiceConfig } from '@netledger/process';
import { SERVICE_CONFIG } from './tokens';

/** What every Netledger process has: its config, health and readiness, Prometheus metrics. */
@Global()
@Module({})
export class ServiceModule {
  static forRoot(config: ServiceConfig): DynamicModule {
    return {
      module: ServiceModule,
      controllers: [HealthController, MetricsController],
      providers: [{ provide: SERVICE_CONFIG, useValue: config }, HealthRegistry, Metrics],
      exports: [SERVICE_CONFIG, HealthRegistry, Metrics],
    };
  }
}
