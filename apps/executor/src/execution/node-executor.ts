import { applyForNode, applyNodeDiff, PlanBook } from '@netledger/planner-core';
import { EMPTY_NODE_STATE, isEmptyDiff, type NodeDiff, type NodeState } from '@netledger/model';
import type { ReceivedChange } from '@netledger/messaging';
import { driftCount, reconcileDiff, type DataplaneHost } from '@netledger/dataplane';

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
  /** The plan as this node's executor keeps it, at the latest revision (the API), if reachable. */
  readonly loadSnapshot: () => Promise<ReceivedChange | undefined>;
  /** Remembers the applied revision (a small state file). */
  readonly saveRevision: (revision: number) => Promise<void>;
  readonly report: (status: ExecutorStatus) => Promise<void>;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
  readonly retries?: number;
  readonly backoffMs?: number;
}

/**
 * The executor's decisions, apart from Kafka. It keeps the plan limited to its node (a PlanBook:
 * the shared tables and peers, its own manifest) and derives each change's diff for its node
 * from it. The host is touched only once the book is known to be complete: after catching up
 * (`converge`), each change is applied as a diff; a gap or an unresolvable change resyncs from
 * the API's snapshot. A failed apply is retried with backoff, each retry reading the host back
 * and reconciling it with the state the change leads to, so a half-done apply is finished.
 */
export class NodeExecutor {
  private book: PlanBook;
  private desired: NodeState = EMPTY_NODE_STATE;
  /** The host is known to hold `desired` (false until the first convergence). */
  private converged = false;
  private applied = 0;
  private lastError: string | null = null;
  private lastApplyMs: number | null = null;
  private resyncs = 0;
  private drift = { found: 0, repaired: 0, checkedAt: null as string | null };
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: NodeExecutorDeps) {
    this.book = new PlanBook({ only: deps.node });
  }

  get appliedRevision(): number {
    return this.applied;
  }

  /** The plan revision the book holds (ahead of appliedRevision while catching up). */
  get bookRevision(): number {
    return this.book.revision;
  }

  get desiredState(): NodeState {
    return this.desired;
  }

  /** True once the host has been brought to a desired state known to be complete. */
  get isConverged(): boolean {
    return this.converged;
  }

  /** At start: takes the API's snapshot of the plan, if there is one; the host is not touched. */
  async start(): Promise<void> {
    await this.serial(() => this.loadSnapshot('start'));
  }

  /**
   * Moves the book on by one change without touching the host (catching up). Returns false when
   * the change does not follow the book (older ones are skipped and count as followed).
   */
  fold(received: ReceivedChange): Promise<boolean> {
    return this.serial(async () => {
      if (received.change.revision <= this.book.revision) return true;
      if (received.change.revision !== this.book.revision + 1) return false;
      this.book.apply(received.change, (d) => received.fragments.get(d));
      return true;
    });
  }

  /** Brings the host to the book's state of the node (after catching up, or a resync). */
  converge(why: string): Promise<void> {
    return this.serial(() => this.reconcile(why));
  }

  /** Handles one change, in order with everything else. */
  handle(received: ReceivedChange): Promise<void> {
    return this.serial(async () => {
      const { change } = received;
      if (change.revision <= this.book.revision) return; // a duplicate, or older than the snapshot
      if (change.revision !== this.book.revision + 1 || !this.converged) {
        this.deps.log?.(
          'warn',
          `plan change ${change.revision} does not follow revision ${this.book.revision}: resync`,
        );
        await this.resync('gap');
        return;
      }
      let diff: NodeDiff;
      try {
        ({ diff } = applyForNode(this.book, change, this.deps.node, (d) => received.fragments.get(d)));
      } catch (error) {
        this.deps.log?.(
          'warn',
          `plan change ${change.revision} cannot be resolved (${String(error)}): resync`,
        );
        await this.resync('unresolvable change');
        return;
      }
      if (isEmptyDiff(diff)) {
        this.applied = change.revision;
        await this.deps.saveRevision(this.applied);
        await this.report();
        return;
      }
      await this.applyWithRetries(diff, applyNodeDiff(this.desired, diff), change.revision);
    });
  }

  /** Resyncs from the API's snapshot now. */
  resyncNow(why: string): Promise<void> {
    return this.serial(() => this.resync(why));
  }

  /** Reads the host back, repairs what differs from the desired state, reports what it found. */
  checkDrift(): Promise<number> {
    return this.serial(async () => {
      // NOTE: never "repair" towards a state not known to be complete.
      if (!this.converged) return 0;
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

  /** Takes the API's snapshot when it is ahead of the book; returns whether it did. */
  private async loadSnapshot(why: string): Promise<boolean> {
    const snapshot = await this.deps.loadSnapshot();
    if (!snapshot || snapshot.change.revision <= this.book.revision) {
      if (why !== 'start')
        this.deps.log?.('warn', `${why}: no snapshot after revision ${this.book.revision}`);
      return false;
    }
    const book = new PlanBook({ revision: snapshot.change.revision - 1, only: this.deps.node });
    book.apply(snapshot.change, (d) => snapshot.fragments.get(d));
    this.book = book;
    this.resyncs++;
    return true;
  }

  private async resync(why: string): Promise<void> {
    this.converged = false;
    if (await this.loadSnapshot(why)) await this.reconcile(why);
  }

  private async reconcile(why: string): Promise<void> {
    const desired = this.book.stateOf(this.deps.node);
    const actual = await this.deps.host.read();
    const diff = reconcileDiff(actual, desired);
    await this.deps.host.apply(diff, actual);
    this.desired = desired;
    this.converged = true;
    this.applied = this.book.revision;
    this.deps.log?.(
      'info',
      `${why}: host reconciled with plan revision ${this.applied} (${driftCount(diff)} entries changed)`,
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
