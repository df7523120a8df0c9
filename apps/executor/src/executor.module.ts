import { Module, type DynamicModule } from '@nestjs/common';
import { KafkaModule } from '@netledger/service';
import { ExecutorService } from './execution/executor.service';
import { EXECUTOR_SETTINGS, readExecutorSettings } from './executor-settings';

/** Applies its node's diffs to the host and reports back. */
@Module({})
export class ExecutorModule {
  static forRoot(env: Readonly<Record<string, string | undefined>> = process.env): DynamicModule {
    return {
      module: ExecutorModule,
      imports: [KafkaModule],
      providers: [{ provide: EXECUTOR_SETTINGS, useValue: readExecutorSettings(env) }, ExecutorService],
      exports: [ExecutorService],
    };
  }
}
