import type { ConsoleLogger } from '@nestjs/common';
import type { PlanCheckpoint } from '@netledger/event-store';
import type { OverlayConfig, ProxyConfig, RecordedEvent } from '@netledger/model';
import type { PlannedChange } from '@netledger/planner-core';
import type { Metrics, OutboxRelayService } from '@netledger/service';
import type { Histogram } from 'prom-client';
import type { PlannerStore } from './planner-store';

/** What one planned batch leaves to store. */
export interface PlannedBatch {
  readonly planned: PlannedChange | undefined;
  /** Per stream, the version folded in. */
  readonly folded: ReadonlyMap<string, number>;
  /** Per partition of cluster-events, the offset after the batch. */
  readonly offsets: readonly { topic: string; partition: number; offset: string }[];
  /** A checkpoint of the book after the change, when one is due. */
  readonly checkpoint: PlanCheckpoint | undefined;
  readonly events: readonly RecordedEvent[];
}

/** A commit that takes longer is logged. */
const SLOW_COMMIT_MS = 250;

/**
 * Stores planned batches one at a time and in order. With `ahead` > 0 the planner plans the next
 * batches while one is stored (up to `ahead` of them wait): planning is CPU, a commit mostly
 * waits for PostgreSQL. On the 2-core bench machine that made churn latency worse (p50 235 ms
 * serial, 365-380 ms with 1 or 2 ahead: planning took the CPU PostgreSQL needed for the commit),
 * so the default is 0: `offer` returns once its batch is stored. A failed commit fails every
 * batch queued behind it (they were planned over it);
 * `onFailure` hears of it once, and the planner rebuilds from what is stored. After a commit its
 * messages are offered to the relay and its checkpoint, if any, is written beside the next ones
 * (a failed checkpoint costs a longer replay, never a change).
 */
export class CommitPipeline {
  private tail: Promise<void> = Promise.resolve();
  private readonly waiting: Promise<void>[] = [];
  private generation = 0;
  private broken = false;
  /** Checkpoints, written one after the other beside the commits. */
  private checkpointing: Promise<void> | undefined;
  private readonly commitDuration: Histogram;
  private readonly changeFragments: Histogram;
  private readonly programmingLatency: Histogram;

  constructor(
    private readonly store: PlannerStore,
    private readonly relay: OutboxRelayService,
    private readonly config: { proxy: ProxyConfig; overlay: OverlayConfig },
    private readonly onFailure: (error: unknown) => void,
    private readonly logger: ConsoleLogger,
    metrics: Metrics,
    private readonly ahead = 0,
  ) {
    this.commitDuration = metrics.histogram({
      name: 'netledger_planner_commit_duration_seconds',
      help: 'Time to store a batch of revisions and their messages.',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    });
    this.changeFragments = metrics.histogram({
      name: 'netledger_planner_change_fragments',
      help: 'Fragment bodies a plan change carries (stored and sent once, whatever the number of nodes).',
      buckets: [0, 1, 10, 100, 1000, 10000, 100000],
    });
    this.programmingLatency = metrics.histogram({
      name: 'netledger_planner_network_programming_duration_seconds',
      help: 'From a cluster event being recorded to its revisions being stored (kube-proxy: network_programming_duration_seconds).',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
    });
  }

  /** Queues a batch behind the ones before it; waits while more than `ahead` are not stored. */
  async offer(batch: PlannedBatch): Promise<void> {
    const generation = this.generation;
    const queuedAt = performance.now();
    const step = this.tail.then(() => this.commit(batch, queuedAt));
    this.tail = step;
    const settled = step.then(
      () => undefined,
      (error: unknown) => {
        if (generation !== this.generation || this.broken) return;
        this.broken = true;
        this.onFailure(error);
      },
    );
    this.waiting.push(settled);
    void settled.finally(() => this.waiting.splice(this.waiting.indexOf(settled), 1));
    while (this.waiting.length > this.ahead) await this.waiting[0];
  }

  /** Resolves once every queued batch is stored or failed, and the checkpoint written. */
  async drained(): Promise<void> {
    await Promise.all(this.waiting);
    await this.checkpointing;
  }

  /** After a rebuild: what was queued before is forgotten (it failed, or is stored). */
  reset(): void {
    this.generation++;
    this.broken = false;
    this.tail = Promise.resolve();
  }

  private async commit(batch: PlannedBatch, queuedAt: number): Promise<void> {
    const started = performance.now();
    const written = await this.store.commit(batch.planned, batch.folded, this.config, batch.offsets);
    this.relay.offer(written);
    const ended = performance.now();
    this.commitDuration.observe((ended - started) / 1000);
    if (ended - started > SLOW_COMMIT_MS) {
      this.logger.warn(
        `slow commit: ${batch.events.length} events took ${Math.round(ended - started)} ms to store ` +
          `(queued ${Math.round(started - queuedAt)} ms behind earlier batches)`,
      );
    }
    if (batch.planned) this.changeFragments.observe(batch.planned.fragments.length);
    const now = Date.now();
    for (const e of batch.events) this.programmingLatency.observe((now - e.recordedAt.getTime()) / 1000);
    if (batch.checkpoint) {
      const checkpoint = batch.checkpoint;
      this.checkpointing = (this.checkpointing ?? Promise.resolve())
        .then(() => this.store.ledger.writeCheckpoint(checkpoint))
        .catch((error: unknown) => this.logger.warn(`checkpoint failed: ${String(error)}`));
    }
  }
}
