import 'reflect-metadata';
import { ConsoleLogger, Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { exitOnSignals, readServiceConfig, type ServiceConfig } from '@netledger/process';
import { ServiceModule } from './service.module';

export interface RunningService {
  readonly app: NestFastifyApplication;
  readonly config: ServiceConfig;
  /** Closes the application (modules' shutdown hooks run), idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts one Netledger process: validates the environment, builds the Nest application around
 * `feature` (the app's own module, given the config), serves health and metrics over HTTP, and
 * on SIGTERM or SIGINT closes every module and exits with status 0.
 */
export async function runService(
  name: string,
  defaultPort: number,
  feature: (config: ServiceConfig) => Type | import('@nestjs/common').DynamicModule,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<RunningService> {
  const config = readServiceConfig(name, defaultPort, env);
  const logger = new ConsoleLogger(name, { json: config.logJson, timestamp: !config.logJson });

  @Module({ imports: [ServiceModule.forRoot(config), feature(config)] })
  class RootModule {}

  const adapter = new FastifyAdapter(
    config.tls ? { https: { cert: config.tls.cert, key: config.tls.key } } : {},
  );
  const app = await NestFactory.create<NestFastifyApplication>(RootModule, adapter, {
    logger,
    abortOnError: false,
  });
  await app.listen(config.httpPort, config.httpHost);
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.httpPort;
  logger.log(`started; health on http${config.tls ? 's' : ''}://${config.httpHost}:${port}/healthz`);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      logger.log('stopping');
      await app.close();
      logger.log('stopped');
    })();
    return stopping;
  };
  exitOnSignals(stop, (error) => logger.error(`shutdown failed: ${String(error)}`));
  return { app, config: { ...config, httpPort: port }, stop };
}
