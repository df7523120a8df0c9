import {
  ConsoleLogger,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { LinuxHost, RecordingHost, type DataplaneHost } from '@netledger/dataplane';
import { ensureTopics, nodeStatusTopic, topicNames, waitForLeaders } from '@netledger/messaging';
import { isNetledgerChain } from '@netledger/planner-core';
import { HealthRegistry, KafkaConnection, Metrics, retryUntilDone } from '@netledger/service';
import { Partitioners, type Producer } from 'kafkajs';
import type { Counter, Gauge } from 'prom-client';
import { EXECUTOR_SETTINGS, type ExecutorSettings } from '../executor-settings';
import { ApiPlanSource } from './api-plan-source';
import { NodeExecutor, type ExecutorStatus } from './node-executor';
import { NodeFeed } from './node-feed';
import { PlanFile } from './plan-file';

/** The plan kept on the node is written at most this often (a K8s-max node's is ~40 MB). */
const PLAN_FILE_EVERY_MS = 10_000;

/** Wires the node executor to Kafka, the host, its state file and node-status. */
@Injectable()
export class ExecutorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new ConsoleLogger('executor');
  private feed: NodeFeed | undefined;
  private producer: Producer | undefined;
  private executor: NodeExecutor | undefined;
  private planFile: PlanFile | undefined;
  private driftTimer: NodeJS.Timeout | undefined;
  private started = false;
  private readonly appliedRevision: Gauge;
  private readonly driftFound: Counter;
  private readonly applyErrors: Counter;
  private readonly refused: Counter;

  constructor(
    private readonly kafka: KafkaConnection,
    health: HealthRegistry,
    metrics: Metrics,
    @Inject(EXECUTOR_SETTINGS) private readonly settings: ExecutorSettings,
  ) {
    this.appliedRevision = metrics.gauge({
      name: 'netledger_executor_applied_revision',
      help: 'Revision the host holds.',
    });
    this.driftFound = metrics.counter({
      name: 'netledger_executor_drift_entries_total',
      help: 'Entries found differing from the desired state.',
    });
    this.applyErrors = metrics.counter({
      name: 'netledger_executor_apply_errors_total',
      help: 'Failed attempts to apply a revision.',
    });
    this.refused = metrics.counter({
      name: 'netledger_executor_refused_messages_total',
      help: 'Plan messages refused as invalid (skipped; the next change then resyncs).',
    });
    health.register({
      name: 'executor',
      // Says exactly what keeps the node from its plan: catching up, no plan for it, a pending revision.
      check: async () => {
        if (!this.started) throw new Error('catching up with the plan topic');
        const why = this.executor?.notReady;
        if (why) throw new Error(why);
      },
    });
  }

  /** The executor's host (tests look at the recording one). */
  host: DataplaneHost | undefined;

  onApplicationBootstrap(): void {
    // In the background: the process serves health while it waits for the planner's topics.
    this.running = this.runUntilStarted();
  }

  /**
   * Starts again after a failed start (a broker still electing leaders, the API away) instead of
   * living on without applying anything; readiness says it is not synced meanwhile.
   */
  private runUntilStarted(): Promise<void> {
    return retryUntilDone(() => this.run(), {
      stopped: () => this.stopping,
      onFailure: async (error, attempt) => {
        this.logger.error(
          `could not start (attempt ${attempt}): ${error instanceof Error ? error.message : String(error)}; trying again in 2 s`,
        );
        await this.teardown();
      },
    });
  }

  private async teardown(): Promise<void> {
    this.started = false;
    this.executor?.stop();
    clearInterval(this.driftTimer);
    await this.feed?.stop().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    this.feed = undefined;
    this.producer = undefined;
  }

  /** The feed's consumer stopped for good: start over, from the latest snapshot, as at start. */
  private restartAfterStop(error: Error): void {
    if (this.stopping) return;
    this.logger.error(`the plan consumer stopped (${error.message}); starting again`);
    this.running = (async () => {
      await this.running?.catch(() => undefined);
      await this.teardown();
      await this.runUntilStarted();
    })();
  }

  private running: Promise<void> | undefined;
  private stopping = false;

  private async run(): Promise<void> {
    const { node, topicPrefix } = this.settings;
    const topics = topicNames(topicPrefix);
    const admin = this.kafka.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [nodeStatusTopic(topicPrefix)]);
      for (let waited = 0; ; waited++) {
        if ((await admin.listTopics()).includes(topics.plan)) break;
        if (this.stopping) return;
        if (waited % 30 === 0) this.logger.log(`waiting for the planner's topic (${topics.plan})`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      // Listed is not yet served: a cold broker answers NOT_LEADER until the partitions have leaders.
      await waitForLeaders(admin, [topics.plan]);
    } finally {
      await admin.disconnect();
    }
    const overlayDevice = () => this.executor?.overlayDevice() ?? 'flannel.1';
    this.host =
      this.settings.backend === 'recording'
        ? new RecordingHost(
            (operations) => operations && this.logger.log(`dry run, would run:\n${operations}`),
          )
        : new LinuxHost({
            ...(this.settings.netns ? { netns: this.settings.netns } : {}),
            device: overlayDevice,
            ownsRoute: (r) => this.executor?.ownsRoute(r.dst) ?? false,
            ownsChain: (c) => this.executor?.ownsChain(c) ?? isNetledgerChain(c),
          });
    this.producer = this.kafka.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await this.producer.connect();
    this.feed = new NodeFeed(
      this.kafka.kafka,
      node,
      topics.plan,
      this.settings.sessionTimeoutMs,
      this.kafka.consumerStallMs,
    );
    const feed = this.feed;
    const api = this.settings.api && new ApiPlanSource(this.settings.api.url, this.settings.api.token, node);
    const planFile = new PlanFile(
      this.settings.stateFile,
      node,
      () => this.executor?.heldPlan(),
      PLAN_FILE_EVERY_MS,
      (message) => this.logger.warn(message),
    );
    this.planFile = planFile;
    const executor = new NodeExecutor({
      node,
      host: this.host,
      loadSnapshot: async () =>
        api?.latest().catch((error: unknown) => {
          this.logger.warn(`the API gave no plan: ${error instanceof Error ? error.message : String(error)}`);
          return undefined;
        }),
      onApplied: async () => planFile.changed(),
      report: (status) => this.report(status, topics.nodeStatus),
      log: (level, message) => (level === 'warn' ? this.logger.warn(message) : this.logger.log(message)),
    });
    this.executor = executor;
    await executor.start(await planFile.read());
    let gap = false;
    let live = false;
    // A handler that throws would stop the consumer on the same message at every start: each
    // logs what failed and lets the executor's own state (pending, gap) bring it back.
    const guarded =
      <A extends unknown[]>(what: string, handler: (...args: A) => Promise<void>) =>
      async (...args: A) => {
        try {
          await handler(...args);
        } catch (error) {
          this.logger.error(`${what}: ${error instanceof Error ? error.message : String(error)}`);
        }
      };
    await feed.start(() => executor.bookRevision, {
      catchUp: guarded('catching up', async (change) => {
        if (!(await executor.fold(change))) gap = true;
      }),
      caughtUp: guarded('caught up', async () => {
        live = true;
        this.started = true;
        if (gap) {
          this.logger.warn(
            `the plan topic does not give revision ${executor.bookRevision + 1} whole: resync`,
          );
          await executor.resyncNow('plan topic behind the book');
        } else await executor.converge('caught up');
        this.logger.log(
          `${node}: at plan revision ${executor.appliedRevision}${executor.notReady ? ` (not ready: ${executor.notReady})` : ''}${this.settings.netns ? ` (programming netns ${this.settings.netns})` : ''}`,
        );
      }),
      live: guarded('plan change', (change) => executor.handle(change)),
      invalid: guarded('refused message', async (error, offset, revision) => {
        this.refused.inc();
        this.logger.error(`skipping plan message at offset ${offset}: ${error.message}`);
        // A revision it does not have yet holds this node's part (every change does): it resyncs.
        // A message that names no revision, or an old one, is only skipped.
        if (revision === undefined || revision <= executor.bookRevision) return;
        if (live) await executor.resyncNow(`plan revision ${revision} could not be read`);
        else gap = true;
      }),
      stopped: (error) => this.restartAfterStop(error),
    });
    if (this.settings.driftIntervalMs > 0) {
      this.driftTimer = setInterval(() => {
        executor.checkDrift().then(
          (found) => this.driftFound.inc(found),
          (error: unknown) => this.logger.warn(`drift check failed: ${String(error)}`),
        );
      }, this.settings.driftIntervalMs);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.executor?.stop();
    await this.running;
    clearInterval(this.driftTimer);
    await this.feed?.stop();
    await this.planFile?.flush();
    await this.producer?.disconnect();
  }

  /** The node executor (tests drive drift checks through it). */
  get nodeExecutor(): NodeExecutor | undefined {
    return this.executor;
  }

  private async report(status: ExecutorStatus, topic: string): Promise<void> {
    this.appliedRevision.set(status.appliedRevision);
    if (status.lastError) this.applyErrors.inc();
    await this.producer?.send({
      topic,
      acks: -1,
      messages: [{ key: status.node, value: JSON.stringify(status) }],
    });
  }
}
