import { createKafka, kafkaReachable, parseBrokers } from '@netledger/messaging';
import {
  createLogger,
  MetricsRegistry,
  ReadinessChecks,
  readServiceConfig,
  StatusServer,
  type Logger,
  type ServiceConfig,
} from '@netledger/process';
import { ExecutorMetrics } from './execution/executor-metrics';
import { ExecutorRuntime } from './execution/executor-runtime';
import type { NodeExecutor } from './execution/node-executor';
import { readExecutorSettings } from './executor-settings';

export const EXECUTOR_DEFAULT_PORT = 8083;

/**
 * The executor as a process: settings from the environment, its Kafka client, health and
 * metrics over node:http (on localhost unless HTTP_HOST says otherwise), and the runtime that
 * applies the plan. No NestJS, no PostgreSQL client: what runs on every node is only what
 * applying needs.
 */
export class ExecutorDaemon {
  readonly metrics = new MetricsRegistry();
  private readonly readiness = new ReadinessChecks();
  private readonly runtime: ExecutorRuntime;
  private readonly status: StatusServer;
  private readonly logger: Logger;
  private readonly config: ServiceConfig;
  private stopping: Promise<void> | undefined;
  /** The port health and metrics are served on (known once started). */
  port = 0;

  /** Reads and validates the environment; a bad value throws an error naming the variable. */
  constructor(env: Readonly<Record<string, string | undefined>> = process.env) {
    this.config = readServiceConfig('executor', EXECUTOR_DEFAULT_PORT, env);
    const settings = readExecutorSettings(env);
    if (!this.config.kafkaBrokers) throw new Error('executor: invalid environment: KAFKA_BROKERS: required');
    this.logger = createLogger('executor', { json: this.config.logJson });
    const kafka = createKafka({
      brokers: parseBrokers(this.config.kafkaBrokers),
      clientId: `netledger-executor-${settings.node}`,
      security: this.config.kafkaSecurity,
    });
    this.readiness.register({ name: 'kafka', check: () => kafkaReachable(kafka) });
    this.runtime = new ExecutorRuntime(
      kafka,
      this.config.kafkaConsumerStallMs,
      settings,
      new ExecutorMetrics(this.metrics),
      this.logger,
      this.readiness,
    );
    this.status = new StatusServer(this.readiness, this.metrics);
  }

  async start(): Promise<void> {
    this.port = await this.status.listen(this.config.httpPort, this.config.httpHost);
    this.logger.log(`started; health on http://${this.config.httpHost}:${this.port}/healthz`);
    this.runtime.start();
  }

  /** Stops applying, keeps the plan on the node, closes Kafka and HTTP; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.logger.log('stopping');
      await this.runtime.stop();
      await this.status.close();
      this.logger.log('stopped');
    })();
    return this.stopping;
  }

  /** The node executor (tests look at its revision and drive drift checks through it). */
  get nodeExecutor(): NodeExecutor | undefined {
    return this.runtime.nodeExecutor;
  }
}
