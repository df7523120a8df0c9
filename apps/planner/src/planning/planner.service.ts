import { randomBytes } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import {
  ConsoleLogger,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import {
  decodeEventMessage,
  disconnectWithin,
  ensureTopics,
  groupTimeouts,
  nodeStatusTopic,
  planTopic,
  stallTimeout,
  startAtOffsets,
  subscribeWhenKnown,
  topicNames,
  whenConsumerStops,
  type Unwatch,
} from '@netledger/messaging';
import { canonicalJson, type RecordedEvent } from '@netledger/model';
import { ChangePlanner, NetworkPlanner } from '@netledger/planner-core';
import {
  HealthRegistry,
  KafkaConnection,
  Metrics,
  OutboxRelayService,
  retryUntilDone,
} from '@netledger/service';
import type { Consumer, EachBatchPayload } from 'kafkajs';
import type { Counter, Histogram } from 'prom-client';
import { PLANNER_SETTINGS, type PlannerSettings } from '../planner-settings';
import { CommitPipeline } from './commit-pipeline';
import { PlannerStore } from './planner-store';

/** Events folded (and a tenth as many nodes planned) between two looks at the reads of a rebuild. */
const REBUILD_SLICE = 2000;
/** A batch that takes longer is logged with where its time went. */
const SLOW_BATCH_MS = 250;

interface Pending {
  readonly event: RecordedEvent;
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/**
 * Consumes cluster-events, folds them into the model in batches (a short window, so a burst makes
 * one revision per node), and commits each batch's revisions to the store with their messages
 * (outbox) before it commits the Kafka offsets. After a restart or a failed commit it rebuilds the
 * model from the store: redelivered events are then older than what the model holds and are
 * skipped by stream version.
 */
@Injectable()
export class PlannerService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new ConsoleLogger('planner');
  private consumer: Consumer | undefined;
  private unwatch: Unwatch | undefined;
  private readonly stallMs: number;
  private stopping = false;
  private planner!: ChangePlanner;
  private pending: Pending[] = [];
  private paused = false;
  /** How often backpressure paused the consumer (tests, and the log). */
  pauses = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private lastFlushAt = -Infinity;
  private ready = false;
  private readonly eventsTotal: Counter;
  private readonly syncDuration: Histogram;
  private readonly pipeline: CommitPipeline;

  constructor(
    private readonly store: PlannerStore,
    private readonly kafka: KafkaConnection,
    private readonly relay: OutboxRelayService,
    health: HealthRegistry,
    metrics: Metrics,
    @Inject(PLANNER_SETTINGS) private readonly settings: PlannerSettings,
  ) {
    this.stallMs = stallTimeout(kafka.consumerStallMs, groupTimeouts(settings.sessionTimeoutMs));
    this.eventsTotal = metrics.counter({
      name: 'netledger_planner_events_total',
      help: 'Cluster events folded into the model.',
    });
    this.syncDuration = metrics.histogram({
      name: 'netledger_planner_sync_proxy_rules_duration_seconds',
      help: 'Time to compute every node revision of a batch (kube-proxy: sync_proxy_rules_duration_seconds).',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    });
    this.pipeline = new CommitPipeline(
      store,
      relay,
      { proxy: settings.proxyConfig, overlay: settings.overlayConfig },
      (error) => {
        this.flushing = this.flushing.then(() => this.failed(error));
      },
      this.logger,
      metrics,
      settings.commitsAhead,
    );
    health.register({
      name: 'planner',
      check: async () => {
        if (!this.ready) throw new Error('rebuilding the model');
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    const admin = this.kafka.kafka.admin();
    await admin.connect();
    try {
      // node-status too: executors may write it, not create it (scripts/kafka/KafkaAccess.java).
      await ensureTopics(admin, [
        planTopic(this.settings.topicPrefix, this.settings.planRetentionMs),
        nodeStatusTopic(this.settings.topicPrefix),
      ]);
    } finally {
      await admin.disconnect();
    }
    await this.rebuild();
    await this.startConsumer();
  }

  /**
   * A new consumer of cluster-events, from the offsets stored with the last plan change. Each
   * start has a group of its own: a planner killed with SIGKILL stays a member of its group until
   * its session times out (30 s), and its successor would wait that long to be given partitions.
   * The offsets live in PostgreSQL, in the transaction of the change they led to.
   */
  private async startConsumer(): Promise<void> {
    const topic = topicNames(this.settings.topicPrefix).clusterEvents;
    const groupId = `${this.settings.consumerGroup}-${randomBytes(4).toString('hex')}`;
    const offsets = await this.store.offsets(topic);
    const consumer = this.kafka.kafka.consumer({
      groupId,
      maxWaitTimeInMs: 50,
      allowAutoTopicCreation: false,
      ...groupTimeouts(this.settings.sessionTimeoutMs),
    });
    this.consumer = consumer;
    // A consumer that stops or stalls is replaced after a rebuild, as after a failed batch.
    this.unwatch = whenConsumerStops(
      consumer,
      (error) => {
        this.flushing = this.flushing.then(() => this.failed(error, 'the cluster-events consumer stopped'));
      },
      { stalledAfterMs: this.stallMs },
    );
    startAtOffsets(consumer, topic, offsets);
    await consumer.connect();
    await subscribeWhenKnown(consumer, {
      topic,
      fromBeginning: true,
    });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.receive(payload),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    this.unwatch?.();
    await this.consumer?.disconnect();
    await this.flushing.catch(() => undefined);
    await this.pipeline.drained();
  }

  /** The plan revision recorded last (for tests and the health of the process). */
  get revision(): number {
    return this.planner.revision;
  }

  /**
   * Rebuilds the model from the store: the folded streams, node revisions and configuration. The
   * model is folded and every node planned while the plan is still being read (neither needs the
   * other), in slices, so the reads' rows are taken in between.
   */
  private async rebuild(): Promise<void> {
    this.ready = false;
    const started = performance.now();
    const restore = this.store.load();
    let bookReadAt = 0;
    void restore.book.then(() => (bookReadAt = performance.now())).catch(() => undefined);
    const { objects, streamVersions, config } = await restore.model;
    const modelReadAt = performance.now();
    const { proxyConfig, overlayConfig } = this.settings;
    // Plans are restored under the configuration their revisions were made with; a changed
    // configuration then shows up as the next revision of every node.
    const model = new NetworkPlanner(config?.proxy ?? proxyConfig, config?.overlay ?? overlayConfig);
    const planner = new ChangePlanner(model);
    for (let i = 0; i < objects.length; i += REBUILD_SLICE) {
      planner.foldLatest(objects.slice(i, i + REBUILD_SLICE));
      await setImmediate();
    }
    const nodes = model.nodeNames();
    for (let i = 0; i < nodes.length; i += REBUILD_SLICE / 10) {
      planner.planNodes(nodes.slice(i, i + REBUILD_SLICE / 10));
      await setImmediate();
    }
    const foldedAt = performance.now();
    const book = await restore.book;
    planner.resume(book, streamVersions);
    const configChanged =
      config !== undefined &&
      (canonicalJson(config.proxy) !== canonicalJson(proxyConfig) ||
        canonicalJson(config.overlay) !== canonicalJson(overlayConfig));
    if (configChanged) {
      this.logger.log('configuration changed since the last revisions: every node gets a revision for it');
      model.setProxyConfig(proxyConfig);
      model.overlay.setConfig(overlayConfig);
    }
    this.planner = planner;
    this.ready = true;
    const resumedAt = performance.now();
    // Also primes the recorder (it compares the whole model with the book once): a changed
    // configuration, or anything the book lacks, is recorded now rather than with the next event.
    await this.flush([]);
    const ms = (from: number, to: number) => Math.round(Math.max(0, to - from));
    this.logger.log(
      `model rebuilt: ${objects.length} objects, the plan at revision ${book.revision} (${book.stats().nodes} nodes) in ${ms(started, performance.now())} ms; ` +
        `objects read ${ms(started, modelReadAt)} ms, folded and planned ${ms(modelReadAt, foldedAt)} ms, ` +
        `plan read ${ms(started, bookReadAt)} ms, resumed ${ms(Math.max(foldedAt, bookReadAt), resumedAt)} ms, compared ${ms(resumedAt, performance.now())} ms`,
    );
  }

  private async receive({ batch, heartbeat, resolveOffset }: EachBatchPayload): Promise<void> {
    for (const message of batch.messages) {
      try {
        this.pending.push({
          event: decodeEventMessage(message.value),
          topic: batch.topic,
          partition: batch.partition,
          offset: message.offset,
        });
      } catch (error) {
        this.logger.warn(
          `skipping an unreadable cluster-events message at ${batch.partition}/${message.offset}: ${(error as Error).message}`,
        );
      }
      // Moves the fetch position on; the offset is committed only once the batch is stored.
      resolveOffset(message.offset);
    }
    if (this.pending.length > 0) this.schedule();
    // Backpressure: the events waiting to be planned are bounded; Kafka keeps the rest.
    if (this.pending.length >= this.settings.maxPendingEvents && !this.paused) {
      this.paused = true;
      this.pauses++;
      this.consumer?.pause([{ topic: batch.topic }]);
      this.logger.warn(`${this.pending.length} events wait to be planned: pausing cluster-events`);
    }
    await heartbeat();
  }

  /** Resumes the consumer once the planner has caught up to half its bound. */
  private resumeIfDrained(): void {
    if (!this.paused || this.pending.length > this.settings.maxPendingEvents / 2) return;
    this.paused = false;
    this.consumer?.resume([{ topic: topicNames(this.settings.topicPrefix).clusterEvents }]);
  }

  /**
   * kube-proxy's minSyncPeriod, as its BoundedFrequencyRunner does it: after a quiet spell a batch
   * goes at once; events within the window after the last flush wait for its end and go together,
   * as do all that arrive while a flush is running (the batch is taken when its flush starts).
   */
  private schedule(): void {
    const full = this.pending.length >= this.settings.maxBatchEvents;
    if (this.timer && !full) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.flushing = this.flushing
          .then(() => this.flushPending())
          .catch((error: unknown) => this.failed(error));
      },
      full ? 0 : this.windowLeft(),
    );
  }

  private windowLeft(): number {
    return Math.max(0, this.lastFlushAt + this.settings.batchWindowMs - performance.now());
  }

  /** Runs once the flushes before it are done; takes at most maxBatchEvents of what is pending. */
  private async flushPending(): Promise<void> {
    if (this.pending.length === 0) return;
    // A step queued behind a short flush can come up inside that flush's window: it waits it out.
    if (this.pending.length < this.settings.maxBatchEvents && this.windowLeft() > 0) {
      this.schedule();
      return;
    }
    const batch = this.pending.splice(0, this.settings.maxBatchEvents);
    this.lastFlushAt = performance.now();
    await this.flush(batch);
    this.resumeIfDrained();
    if (this.pending.length > 0) this.schedule();
  }

  /** Plans a batch and hands it to the pipeline, which stores it while the next is planned. */
  private async flush(batch: Pending[]): Promise<void> {
    const started = performance.now();
    const folded = new Map<string, number>();
    // Global position order is commit order per stream, and the same order on every replay.
    for (const p of [...batch].sort((a, b) => a.event.position - b.event.position)) {
      if (this.planner.apply(p.event)) {
        folded.set(p.event.streamId, p.event.streamVersion);
        this.eventsTotal.inc();
      }
    }
    const planned = this.planner.commit();
    const computed = performance.now();
    this.syncDuration.observe((computed - started) / 1000);
    if (!planned && batch.length === 0) return;
    // The book's snapshot is taken now, synchronously: the book moves on with the next batch.
    const checkpoint = planned
      ? this.store.checkpointDue(this.planner.recorder.book, planned.fragments.length)
      : undefined;
    const ended = performance.now();
    if (ended - started > SLOW_BATCH_MS) {
      this.logger.warn(
        `slow batch: ${batch.length} events took ${Math.round(ended - started)} ms to plan` +
          (checkpoint ? ` (${Math.round(ended - computed)} ms of it a checkpoint's snapshot)` : ''),
      );
    }
    await this.pipeline.offer({
      planned,
      folded,
      offsets: nextOffsets(batch),
      checkpoint,
      events: batch.map((p) => p.event),
    });
  }

  /**
   * A failed commit leaves the model ahead of the store: rebuild it, and let Kafka redeliver from
   * the committed offsets to a new consumer. Also what a stopped or stalled consumer comes to.
   */
  private async failed(error: unknown, what = 'batch failed'): Promise<void> {
    const reason = error instanceof Error ? error.message : String(error);
    this.logger.error(`${what}, rebuilding the model: ${reason}`);
    await this.pipeline.drained();
    this.pipeline.reset();
    this.pending = [];
    this.paused = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await retryUntilDone(
      async () => {
        this.unwatch?.();
        await disconnectWithin(this.consumer, this.stallMs);
        this.consumer = undefined;
        await this.rebuild();
        await this.startConsumer();
      },
      {
        stopped: () => this.stopping,
        onFailure: (again, attempt) =>
          this.logger.error(`could not recover (attempt ${attempt}): ${String(again)}; trying again in 2 s`),
      },
    );
  }
}

/** Per partition, the offset after the last message of the batch. */
function nextOffsets(batch: readonly Pending[]): { topic: string; partition: number; offset: string }[] {
  const next = new Map<string, { topic: string; partition: number; offset: string }>();
  for (const p of batch) {
    const key = `${p.topic}/${p.partition}`;
    const offset = String(BigInt(p.offset) + 1n);
    const current = next.get(key);
    if (!current || BigInt(current.offset) < BigInt(offset))
      next.set(key, { topic: p.topic, partition: p.partition, offset });
  }
  return [...next.values()];
}
