import { applyNodeDiff } from '@netledger/planner-core';
import {
  decodeNodeState,
  EMPTY_NODE_STATE,
  type NodeDiff,
  type NodeSnapshot,
  type NodeState,
} from '@netledger/model';
import { driftCount, reconcileDiff, type DataplaneHost } from '@netledger/dataplane';

/** One revision for this node, its diff resolved. */
export interface IncomingRevision {
  readonly baseRevision: number;
  readonly revision: number;
  readonly diff: NodeDiff;
}

/** What the executor reports (node-status). */
export interface ExecutorStatus {
  readonly node: string;
  readonly appliedRevision: number;
  readonly lastError: string | null;
  readonly lastApplyMs: number | null;
  readonly resyncs: number;
  readonly drift: { readonly found: number; readonly repaired: number; readonly checkedAt: string | null };
  readonly updatedAt: string;
}

export interface NodeExecutorDeps {
  readonly node: string;
  readonly host: DataplaneHost;
  /** The latest full state published for the node (node-snapshots), if any. */
  readonly loadSnapshot: () => Promise<NodeSnapshot | undefined>;
  /** Remembers the applied revision (a small state file). */
  readonly saveRevision: (revision: number) => Promise<void>;
  readonly report: (status: ExecutorStatus) => Promise<void>;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
  readonly retries?: number;
  readonly backoffMs?: number;
}

/**
 * The executor's decisions, apart from Kafka: a revision is applied only on top of the one the
 * host has; older ones are skipped; a gap (or a start) reconciles the host with the latest
 * snapshot. A failed apply is retried with backoff, each retry reading the host back and
 * reconciling it with the state the revision leads to, so a half-done apply is finished.
 */
export class NodeExecutor {
  private desired: NodeState = EMPTY_NODE_STATE;
  private applied = 0;
  private lastError: string | null = null;
  private lastApplyMs: number | null = null;
  private resyncs = 0;
  private drift = { found: 0, repaired: 0, checkedAt: null as string | null };
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: NodeExecutorDeps) {}

  get appliedRevision(): number {
    return this.applied;
  }

  get desiredState(): NodeState {
    return this.desired;
  }

  /** At start: the host is brought to the latest snapshot (if there is one newer than the state file). */
  async start(stateFileRevision: number): Promise<void> {
    this.applied = stateFileRevision;
    await this.serial(() => this.resync('start'));
  }

  /** Handles one revision for this node, in order with everything else. */
  handle(revision: IncomingRevision): Promise<void> {
    return this.serial(async () => {
      if (revision.revision <= this.applied) return; // a duplicate, or older than the snapshot applied
      if (revision.baseRevision !== this.applied) {
        this.deps.log?.(
          'warn',
          `revision ${revision.revision} is based on ${revision.baseRevision}, the host has ${this.applied}: resync`,
        );
        await this.resync('gap');
        if (revision.revision <= this.applied || revision.baseRevision !== this.applied) return;
      }
      const next = applyNodeDiff(this.desired, revision.diff);
      await this.applyWithRetries(revision.diff, next, revision.revision);
    });
  }

  /** Reconciles the host with the latest snapshot now (a revision arrived without its diff). */
  resyncNow(why: string): Promise<void> {
    return this.serial(() => this.resync(why));
  }

  /** Reads the host back, repairs what differs from the desired state, reports what it found. */
  checkDrift(): Promise<number> {
    return this.serial(async () => {
      const actual = await this.deps.host.read();
      const diff = reconcileDiff(actual, this.desired);
      const found = driftCount(diff);
      if (found > 0) {
        this.deps.log?.('warn', `drift: ${found} entries differ from revision ${this.applied}; repairing`);
        await this.deps.host.apply(diff, actual);
        this.drift.repaired += found;
      }
      this.drift.found += found;
      this.drift.checkedAt = new Date().toISOString();
      await this.report();
      return found;
    });
  }

  private async applyWithRetries(diff: NodeDiff, next: NodeState, revision: number): Promise<void> {
    const retries = this.deps.retries ?? 5;
    let delay = this.deps.backoffMs ?? 200;
    for (let attempt = 0; ; attempt++) {
      const t0 = performance.now();
      try {
        if (attempt === 0) await this.deps.host.apply(diff, this.desired);
        else {
          // After a failure the host may be anywhere between the two states: finish from what it has.
          const actual = await this.deps.host.read();
          await this.deps.host.apply(reconcileDiff(actual, next), actual);
        }
        this.desired = next;
        this.applied = revision;
        this.lastError = null;
        this.lastApplyMs = performance.now() - t0;
        await this.deps.saveRevision(revision);
        await this.report();
        return;
      } catch (error) {
        this.lastError = error instanceof Error ? error.message : String(error);
        this.deps.log?.('warn', `revision ${revision}, attempt ${attempt + 1}: ${this.lastError}`);
        await this.report();
        if (attempt >= retries) throw error;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 10_000);
      }
    }
  }

  /** Brings the host to the latest snapshot when it is newer than what was applied. */
  private async resync(why: string): Promise<void> {
    const snapshot = await this.deps.loadSnapshot();
    // NOTE: the planner publishes a snapshot with every revision (up to SNAPSHOT_MAX_BYTES), so the
    // latest one is at least as new as anything applied; an older one would lose track.
    if (!snapshot || snapshot.revision < this.applied) {
      if (this.applied > 0)
        this.deps.log?.('warn', `${why}: no snapshot at or after revision ${this.applied}`);
      return;
    }
    const desired = decodeNodeState(snapshot.state);
    const actual = await this.deps.host.read();
    const diff = reconcileDiff(actual, desired);
    await this.deps.host.apply(diff, actual);
    this.desired = desired;
    this.applied = snapshot.revision;
    this.resyncs++;
    this.deps.log?.(
      'info',
      `${why}: host reconciled with snapshot revision ${snapshot.revision} (${driftCount(diff)} entries changed)`,
    );
    await this.deps.saveRevision(this.applied);
    await this.report();
  }

  private report(): Promise<void> {
    return this.deps.report({
      node: this.deps.node,
      appliedRevision: this.applied,
      lastError: this.lastError,
      lastApplyMs: this.lastApplyMs,
      resyncs: this.resyncs,
      drift: { ...this.drift },
      updatedAt: new Date().toISOString(),
    });
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
