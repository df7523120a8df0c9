import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  ConsoleLogger,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { LinuxHost, RecordingHost, type DataplaneHost } from '@netledger/dataplane';
import { ensureTopics, nodeStatusTopic, topicNames, waitForLeaders } from '@netledger/messaging';
import { HealthRegistry, KafkaConnection, Metrics, retryUntilDone } from '@netledger/service';
import { Partitioners, type Producer } from 'kafkajs';
import type { Counter, Gauge } from 'prom-client';
import { EXECUTOR_SETTINGS, type ExecutorSettings } from '../executor-settings';
import { ApiStateSource, newerSnapshot } from './api-state-source';
import { NodeExecutor, type ExecutorStatus } from './node-executor';
import { NodeFeed } from './node-feed';

/** Wires the node executor to Kafka, the host, its state file and node-status. */
@Injectable()
export class ExecutorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new ConsoleLogger('executor');
  private feed: NodeFeed | undefined;
  private producer: Producer | undefined;
  private executor: NodeExecutor | undefined;
  private driftTimer: NodeJS.Timeout | undefined;
  private started = false;
  private readonly appliedRevision: Gauge;
  private readonly driftFound: Counter;
  private readonly applyErrors: Counter;

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
    health.register({
      name: 'executor',
      check: async () => {
        if (!this.started) throw new Error('not synced with its node yet');
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
    clearInterval(this.driftTimer);
    await this.feed?.stop().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    this.feed = undefined;
    this.producer = undefined;
  }

  /** The feed's consumer stopped for good: start over, from the latest snapshot, as at start. */
  private restartAfterStop(error: Error): void {
    if (this.stopping) return;
    this.logger.error(`the node-diffs consumer stopped (${error.message}); starting again from the snapshot`);
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
        const existing = new Set(await admin.listTopics());
        if (existing.has(topics.nodeDiffs) && existing.has(topics.nodeSnapshots)) break;
        if (this.stopping) return;
        if (waited % 30 === 0)
          this.logger.log(`waiting for the planner's topics (${topics.nodeDiffs}, ${topics.nodeSnapshots})`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      // Listed is not yet served: a cold broker answers NOT_LEADER until the partitions have leaders.
      await waitForLeaders(admin, [topics.nodeDiffs, topics.nodeSnapshots]);
    } finally {
      await admin.disconnect();
    }
    const desiredDevice = () => [...(this.executor?.desiredState.devices.keys() ?? [])][0] ?? 'flannel.1';
    this.host =
      this.settings.backend === 'recording'
        ? new RecordingHost(
            (operations) => operations && this.logger.log(`dry run, would run:\n${operations}`),
          )
        : new LinuxHost({
            ...(this.settings.netns ? { netns: this.settings.netns } : {}),
            device: desiredDevice,
            ownsRoute: (r) => this.executor?.desiredState.routes.has(r.dst) ?? false,
          });
    this.producer = this.kafka.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await this.producer.connect();
    this.feed = new NodeFeed(
      this.kafka.kafka,
      node,
      topics,
      this.settings.sessionTimeoutMs,
      this.kafka.consumerStallMs,
    );
    const feed = this.feed;
    const api = this.settings.api && new ApiStateSource(this.settings.api.url, this.settings.api.token, node);
    const executor = new NodeExecutor({
      node,
      host: this.host,
      loadSnapshot: async () => {
        const fromApi = api?.latest().catch((error: unknown) => {
          this.logger.warn(
            `the API gave no state: ${error instanceof Error ? error.message : String(error)}`,
          );
          return undefined;
        });
        return newerSnapshot(await feed.latestSnapshot(), await fromApi);
      },
      saveRevision: (revision) => this.saveRevision(revision),
      report: (status) => this.report(status, topics.nodeStatus),
      log: (level, message) => (level === 'warn' ? this.logger.warn(message) : this.logger.log(message)),
    });
    this.executor = executor;
    await executor.start(await this.loadRevision());
    this.started = true;
    await feed.start(
      async (incoming) => {
        if ('missingBody' in incoming) {
          this.logger.warn(`revision ${incoming.missingBody.revision} arrived without its diff body: resync`);
          await executor.resyncNow('missing diff body');
          return;
        }
        try {
          await executor.handle(incoming);
        } catch (error) {
          // Retries are exhausted: the next revision or drift check will find the host behind.
          this.logger.error(
            `revision ${incoming.revision} failed: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      },
      (error) => this.restartAfterStop(error),
    );
    if (this.settings.driftIntervalMs > 0) {
      this.driftTimer = setInterval(() => {
        executor.checkDrift().then(
          (found) => this.driftFound.inc(found),
          (error: unknown) => this.logger.warn(`drift check failed: ${String(error)}`),
        );
      }, this.settings.driftIntervalMs);
    }
    this.logger.log(
      `${node}: at revision ${executor.appliedRevision}${this.settings.netns ? ` (programming netns ${this.settings.netns})` : ''}`,
    );
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    await this.running;
    clearInterval(this.driftTimer);
    await this.feed?.stop();
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

  private async loadRevision(): Promise<number> {
    try {
      const saved = JSON.parse(await readFile(this.settings.stateFile, 'utf8')) as {
        node?: unknown;
        revision?: unknown;
      };
      if (saved.node === this.settings.node && typeof saved.revision === 'number' && saved.revision >= 0)
        return saved.revision;
      this.logger.warn(`${this.settings.stateFile} is not this node's state: starting from 0`);
    } catch {
      // no state file yet
    }
    return 0;
  }

  /** Written to a temporary file and renamed, so a crash never leaves half a state file. */
  private async saveRevision(revision: number): Promise<void> {
    const file = this.settings.stateFile;
    await mkdir(dirname(file), { recursive: true });
    await writeFile(`${file}.tmp`, JSON.stringify({ node: this.settings.node, revision }));
    await rename(`${file}.tmp`, file);
  }
}
