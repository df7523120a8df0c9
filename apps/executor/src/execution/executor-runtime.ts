import { LinuxHost, RecordingHost, type DataplaneHost } from '@netledger/dataplane';
import {
  ensureTopics,
  nodeStatusTopic,
  PlanVerifier,
  topicNames,
  waitForLeaders,
  type ReceivedChange,
} from '@netledger/messaging';
import { isNetledgerError } from '@netledger/model';
import { isNetledgerChain } from '@netledger/planner-core';
import { retryUntilDone, type Logger, type ReadinessChecks } from '@netledger/process';
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { ExecutorSettings } from '../executor-settings';
import { ApiPlanSource } from './api-plan-source';
import type { ExecutorMetrics } from './executor-metrics';
import { NodeExecutor, type ExecutorStatus } from './node-executor';
import { NodeFeed } from './node-feed';
import { PlanFile } from './plan-file';

/** The plan kept on the node is written at most this often (a K8s-max node's is ~40 MB). */
const PLAN_FILE_EVERY_MS = 10_000;

/**
 * Wires the node executor to Kafka (the plan topic in, node-status out), the host, the plan kept
 * on the node and the API; starts again when its consumer stops for good.
 */
export class ExecutorRuntime {
  private feed: NodeFeed | undefined;
  private producer: Producer | undefined;
  private executor: NodeExecutor | undefined;
  private planFile: PlanFile | undefined;
  private driftTimer: NodeJS.Timeout | undefined;
  private started = false;
  /** The revision the book last moved to from the topic, and the offset after its last part. */
  private position: { readonly revision: number; readonly next: bigint } | undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly consumerStallMs: number,
    private readonly settings: ExecutorSettings,
    private readonly metrics: ExecutorMetrics,
    private readonly logger: Logger,
    readiness: ReadinessChecks,
  ) {
    readiness.register({
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

  /** Starts in the background: the process serves health while it waits for the planner's topics. */
  start(): void {
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
    const admin = this.kafka.admin();
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
        ? new RecordingHost((operations) => operations && this.logger.log(dryRunLines(operations)))
        : new LinuxHost({
            ...(this.settings.netns ? { netns: this.settings.netns } : {}),
            device: overlayDevice,
            ownsRoute: (r) => this.executor?.ownsRoute(r.dst) ?? false,
            ownsChain: (c, family) => this.executor?.ownsChain(c, family) ?? isNetledgerChain(c),
          });
    this.producer = this.kafka.producer({
      createPartitioner: Partitioners.DefaultPartitioner,
      allowAutoTopicCreation: false,
    });
    await this.producer.connect();
    this.feed = new NodeFeed(
      this.kafka,
      node,
      topics.plan,
      this.settings.sessionTimeoutMs,
      this.consumerStallMs,
      this.settings.planKeys && PlanVerifier.fromFiles(this.settings.planKeys),
      this.settings.maxChangeBytes,
    );
    const feed = this.feed;
    const api =
      this.settings.api &&
      new ApiPlanSource({ ...this.settings.api, node, maxBytes: this.settings.maxChangeBytes });
    const planFile = new PlanFile(
      this.settings.stateFile,
      node,
      () => {
        const plan = this.executor?.heldPlan();
        const at = this.position;
        return plan && at?.revision === plan.change.revision ? { ...plan, nextOffset: at.next } : plan;
      },
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
    this.position = undefined;
    const kept = await planFile.read();
    await executor.start(kept);
    // Where the topic goes on from: after the kept plan's revision, if the book holds that one.
    const from =
      kept && executor.bookRevision === kept.change.revision
        ? await planFile.nextOffset(kept.change.revision)
        : undefined;
    if (from !== undefined) this.position = { revision: kept!.change.revision, next: from };
    const moved = (change: ReceivedChange, offset: bigint) => {
      if (executor.bookRevision === change.change.revision)
        this.position = { revision: change.change.revision, next: offset + 1n };
    };
    let gap = false;
    /** The latest revision a message claimed that could not be read (while catching up). */
    let unread = 0;
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
    await feed.start(
      () => executor.bookRevision,
      {
        catchUp: guarded('catching up', async (change, offset) => {
          if (!(await executor.fold(change))) gap = true;
          moved(change, offset);
        }),
        caughtUp: guarded('caught up', async () => {
          live = true;
          this.started = true;
          // A revision that could not be read is a gap unless the topic gave it whole after all.
          if (gap || unread > executor.bookRevision) {
            this.logger.warn(
              `the plan topic does not give revision ${executor.bookRevision + 1} whole: resync`,
            );
            await executor.resyncNow('plan topic behind the book');
          } else await executor.converge('caught up');
          this.logger.log(
            `${node}: at plan revision ${executor.appliedRevision}${executor.notReady ? ` (not ready: ${executor.notReady})` : ''}${this.settings.netns ? ` (programming netns ${this.settings.netns})` : ''}`,
          );
        }),
        live: guarded('plan change', async (change, offset) => {
          await executor.handle(change);
          moved(change, offset);
        }),
        invalid: guarded('refused message', async (error, offset, revision) => {
          const reason = isNetledgerError(error) ? error.code : 'MESSAGE.INVALID';
          this.metrics.refused.inc({ reason });
          this.logger.error(`skipping plan message at offset ${offset}: ${error.message}`);
          await executor.refused(`offset ${offset}: ${error.message}`);
          // Not the planner's: its headers say nothing (a forger could make every node resync).
          if (reason === 'MESSAGE.UNSIGNED' || reason === 'MESSAGE.FORGED') return;
          // A revision it does not have yet holds this node's part (every change does): it resyncs.
          // A message that names no revision, or an old one, is only skipped.
          if (revision === undefined || revision <= executor.bookRevision) return;
          if (live) await executor.resyncNow(`plan revision ${revision} could not be read`);
          else unread = Math.max(unread, revision);
        }),
        stopped: (error) => this.restartAfterStop(error),
      },
      from,
    );
    if (this.settings.driftIntervalMs > 0) {
      this.driftTimer = setInterval(() => {
        executor.checkDrift().then(
          (found) => this.metrics.driftFound.inc(found),
          (error: unknown) => this.logger.warn(`drift check failed: ${String(error)}`),
        );
      }, this.settings.driftIntervalMs);
    }
  }

  async stop(): Promise<void> {
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
    this.metrics.appliedRevision.set(status.appliedRevision);
    if (status.lastError) this.metrics.applyErrors.inc();
    await this.producer?.send({
      topic,
      acks: -1,
      messages: [{ key: status.node, value: JSON.stringify(status) }],
    });
  }
}

/** A dry run's operations as a log line: a full sync of a large node is hundreds of thousands. */
function dryRunLines(operations: string, shown = 200): string {
  const lines = operations.split('\n', shown + 1);
  if (lines.length <= shown) return `dry run, would run:\n${operations}`;
  let total = 0;
  for (let at = operations.indexOf('\n'); at >= 0; at = operations.indexOf('\n', at + 1)) total++;
  return `dry run, would run (the first ${shown} of ${total} lines):\n${lines.slice(0, shown).join('\n')}\n…`;
}
