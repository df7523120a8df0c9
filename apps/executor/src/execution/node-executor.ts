import {
  applyForNode,
  applyNodeDiff,
  FragmentEncoder,
  ownsChain,
  PlanBook,
  type FragmentValues,
} from '@netledger/planner-core';
import {
  EMPTY_NODE_STATE,
  isEmptyDiff,
  type IpFamily,
  type NodeDiff,
  type NodeState,
  type PlanChange,
} from '@netledger/model';
import type { FragmentJson, ReceivedChange } from '@netledger/messaging';
import { driftCount, reconcileDiff, type DataplaneHost } from '@netledger/dataplane';

/** What the executor reports (node-status). */
export interface ExecutorStatus {
  readonly node: string;
  readonly appliedRevision: number;
  readonly lastError: string | null;
  readonly lastApplyMs: number | null;
  readonly resyncs: number;
  /** Plan messages refused (unsigned, forged, invalid), and the last one's reason. */
  readonly refused: { readonly messages: number; readonly last: string | null };
  readonly drift: { readonly found: number; readonly repaired: number; readonly checkedAt: string | null };
  readonly updatedAt: string;
}

export interface NodeExecutorDeps {
  readonly node: string;
  readonly host: DataplaneHost;
  /** The plan as this node's executor keeps it, at the latest revision (the API), if reachable. */
  readonly loadSnapshot: () => Promise<ReceivedChange | undefined>;
  /** The host now holds this revision (the process keeps the plan on the node, see heldPlan). */
  readonly onApplied: (revision: number) => Promise<void>;
  readonly report: (status: ExecutorStatus) => Promise<void>;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
  /** Attempts of one apply before the revision is left pending (and retried on a timer). */
  readonly retries?: number;
  readonly backoffMs?: number;
  /** Longest wait between two attempts at a pending revision (capped exponential backoff). */
  readonly maxBackoffMs?: number;
}

/**
 * The executor's decisions, apart from Kafka. It keeps the plan limited to its node (a PlanBook:
 * the shared tables and peers, its own manifest) and derives each change's diff for its node
 * from it. The host is touched only once the book is known to be complete and to hold this
 * node: after catching up (`converge`), each change is applied as a diff; a gap or an
 * unresolvable change resyncs from the API's snapshot. A failed apply is retried with backoff,
 * each retry reading the host back and reconciling it with the state the change leads to, so a
 * half-done apply is finished; when the attempts run out the revision stays pending, and a timer
 * (capped backoff) reconciles the host with the latest plan until it succeeds.
 */
export class NodeExecutor {
  private book: PlanBook;
  private desired: NodeState = EMPTY_NODE_STATE;
  /** The state the host is being brought to (reading the host back, its entries are ours too). */
  private target: NodeState = EMPTY_NODE_STATE;
  /** The host is known to hold `desired` (false until the first convergence). */
  private converged = false;
  private applied = 0;
  private lastError: string | null = null;
  private lastApplyMs: number | null = null;
  private resyncs = 0;
  private refusals = { messages: 0, last: null as string | null };
  private drift = { found: 0, repaired: 0, checkedAt: null as string | null };
  private queue: Promise<unknown> = Promise.resolve();
  /** Why the host is not at the plan now (undefined: it is, or nothing is known yet). */
  private waiting: string | undefined = 'not caught up with the plan yet';
  private retryTimer: NodeJS.Timeout | undefined;
  private retryDelay: number;
  private stopped = false;
  private readonly encoder = new FragmentEncoder();

  constructor(private readonly deps: NodeExecutorDeps) {
    this.book = new PlanBook({ only: deps.node });
    this.retryDelay = deps.backoffMs ?? 200;
  }

  /** Why the executor is not ready (undefined when the host holds the latest plan it knows). */
  get notReady(): string | undefined {
    return this.converged ? undefined : this.waiting;
  }

  /** Stops the retry timer (the process is stopping). */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
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

  /** Whether a chain on the host is Netledger's: always, or held by the state it has or is given. */
  ownsChain(chain: string, family: IpFamily = 'IPv4'): boolean {
    return ownsChain(this.desired, chain, family) || ownsChain(this.target, chain, family);
  }

  /** The overlay device (flannel.<VNI>) of the state the host is given, else of the one it has. */
  overlayDevice(): string | undefined {
    return [...this.target.devices.keys(), ...this.desired.devices.keys()][0];
  }

  /** Whether a route off the overlay device is Netledger's (DirectRouting), by the same rule. */
  ownsRoute(dst: string): boolean {
    return this.desired.routes.has(dst) || this.target.routes.has(dst);
  }

  /** True once the host has been brought to a desired state known to be complete. */
  get isConverged(): boolean {
    return this.converged;
  }

  /**
   * At start: takes the plan this node last brought its host to (kept on the node, so a restart
   * needs no network Netledger programs), or else the API's snapshot; the host is not touched.
   */
  async start(kept?: ReceivedChange): Promise<void> {
    await this.serial(async () => {
      // With the plan it kept, the topic goes on from there (a gap in it resyncs from the API);
      // without, the API's snapshot spares it folding the topic from its beginning.
      if (kept && this.takeSnapshot(kept, 'the plan kept on the node')) return;
      await this.loadSnapshot('start');
    });
  }

  /**
   * The plan the host holds now, for keeping on the node (undefined while not converged). A
   * fragment's JSON is made once per fragment object (FragmentEncoder): a plan kept every few
   * seconds encodes only what changed since.
   */
  heldPlan(): { change: PlanChange; fragments: FragmentJson[] } | undefined {
    if (!this.converged) return undefined;
    const change = this.book.snapshot(this.deps.node);
    const fragments = change.fragments.map((digest) => {
      const { kind, value } = this.book.fragment(digest)!;
      return this.encoder.encode(kind, value as FragmentValues[typeof kind]);
    });
    return { change, fragments };
  }

  /**
   * Moves the book on by one change without touching the host (catching up). Returns false when
   * the change does not follow the book (older ones are skipped and count as followed).
   */
  fold(received: ReceivedChange): Promise<boolean> {
    return this.serial(async () => {
      if (received.change.revision <= this.book.revision) return true;
      if (received.change.revision !== this.book.revision + 1) return false;
      // A change that does not resolve is a gap: the caller resyncs rather than stopping here.
      return this.moveBook(received);
    });
  }

  /** Brings the host to the book's state of the node (after catching up, or a resync). */
  converge(why: string): Promise<void> {
    return this.serial(() => this.tryReconcile(why));
  }

  /** Handles one change, in order with everything else. */
  handle(received: ReceivedChange): Promise<void> {
    return this.serial(async () => {
      const { change } = received;
      if (change.revision <= this.book.revision) return; // a duplicate, or older than the snapshot
      if (change.revision !== this.book.revision + 1) {
        this.deps.log?.(
          'warn',
          `plan change ${change.revision} does not follow revision ${this.book.revision}: resync`,
        );
        await this.resync('gap');
        return;
      }
      if (!this.converged) {
        // Behind (a pending revision, or no plan for this node yet): the book moves on and the
        // host is reconciled with it whole, never diffed from a state it may not hold.
        if (!this.moveBook(received)) await this.resync('unresolvable change');
        else await this.tryReconcile(this.waiting ?? 'behind');
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
        await this.deps.onApplied(this.applied);
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
          this.target = next;
          const actual = await this.deps.host.read();
          await this.deps.host.apply(reconcileDiff(actual, next), actual);
        }
        this.desired = next;
        this.applied = revision;
        this.lastError = null;
        this.lastApplyMs = performance.now() - t0;
        await this.deps.onApplied(revision);
        await this.report();
        return;
      } catch (error) {
        this.lastError = error instanceof Error ? error.message : String(error);
        this.deps.log?.('warn', `revision ${revision}, attempt ${attempt + 1}: ${this.lastError}`);
        if (attempt >= retries) {
          this.pending(`revision ${revision} failed: ${this.lastError}`);
          await this.report();
          return;
        }
        await this.report();
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, this.deps.maxBackoffMs ?? 30_000);
      }
    }
  }

  /** Applies a change to the book alone; false, the book unchanged, when it does not resolve. */
  private moveBook(received: ReceivedChange): boolean {
    try {
      this.book.apply(received.change, (d) => received.fragments.get(d));
      return true;
    } catch (error) {
      this.deps.log?.(
        'warn',
        `plan change ${received.change.revision} cannot be resolved (${String(error)})`,
      );
      return false;
    }
  }

  /**
   * The host is not at the plan and the last attempt failed: reconcile it with the latest plan
   * on a timer, backing off up to maxBackoffMs, until it succeeds. Drift checks wait meanwhile.
   */
  private pending(why: string): void {
    this.converged = false;
    this.waiting = why;
    if (this.retryTimer || this.stopped) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(delay * 2, this.deps.maxBackoffMs ?? 30_000);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.serial(async () => {
        if (!this.converged) await this.tryReconcile(`retry (${why})`);
      });
    }, delay);
    this.retryTimer.unref?.();
  }

  /** Reconciles; a failure leaves the revision pending (retried), it never throws. */
  private async tryReconcile(why: string): Promise<void> {
    try {
      await this.reconcile(why);
    } catch (error) {
      this.lastError = error instanceof Error ? error.message : String(error);
      this.deps.log?.('warn', `${why}: reconciling failed: ${this.lastError}`);
      this.pending(`reconciling with revision ${this.book.revision} failed: ${this.lastError}`);
      await this.report().catch(() => undefined);
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
    if (!this.takeSnapshot(snapshot, 'the API')) return false;
    this.resyncs++;
    return true;
  }

  /** Replaces the book with a snapshot of the plan; false (book kept) when it does not resolve. */
  private takeSnapshot(snapshot: ReceivedChange, from: string): boolean {
    try {
      const book = new PlanBook({ revision: snapshot.change.revision - 1, only: this.deps.node });
      book.apply(snapshot.change, (d) => snapshot.fragments.get(d));
      this.book = book;
      return true;
    } catch (error) {
      this.deps.log?.('warn', `the plan from ${from} does not resolve (${String(error)}): not taken`);
      return false;
    }
  }

  private async resync(why: string): Promise<void> {
    this.converged = false;
    this.waiting = `${why}: waiting for a plan snapshot after revision ${this.book.revision}`;
    if (await this.loadSnapshot(why)) await this.tryReconcile(why);
  }

  /**
   * Brings the host to the book's state of this node. Never towards a plan that does not hold
   * the node (an empty or truncated plan topic, no snapshot): that state is unknown, not empty,
   * and the host is left as it is.
   */
  private async reconcile(why: string): Promise<void> {
    if (!this.book.hasNode(this.deps.node)) {
      this.converged = false;
      this.waiting = `no desired state: plan revision ${this.book.revision} does not hold node ${this.deps.node}`;
      this.deps.log?.('warn', `${why}: ${this.waiting}; the host is left as it is`);
      await this.report();
      return;
    }
    const desired = this.book.stateOf(this.deps.node);
    this.target = desired;
    const actual = await this.deps.host.read();
    const diff = reconcileDiff(actual, desired);
    await this.deps.host.apply(diff, actual);
    this.desired = desired;
    this.converged = true;
    this.waiting = undefined;
    this.lastError = null;
    this.retryDelay = this.deps.backoffMs ?? 200;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.applied = this.book.revision;
    this.deps.log?.(
      'info',
      `${why}: host reconciled with plan revision ${this.applied} (${driftCount(diff)} entries changed)`,
    );
    await this.deps.onApplied(this.applied);
    await this.report();
  }

  /** A plan message was refused: counted and reported, nothing of it applied. */
  async refused(reason: string): Promise<void> {
    this.refusals = { messages: this.refusals.messages + 1, last: reason.slice(0, 500) };
    await this.report();
  }

  private report(): Promise<void> {
    return this.deps.report({
      node: this.deps.node,
      appliedRevision: this.applied,
      lastError: this.lastError,
      lastApplyMs: this.lastApplyMs,
      resyncs: this.resyncs,
      refused: { ...this.refusals },
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
