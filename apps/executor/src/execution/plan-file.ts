import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  encodePlanChange,
  PlanAssembler,
  type FragmentJson,
  type ReceivedChange,
} from '@netledger/messaging';
import type { PlanChange } from '@netledger/model';

/** What the host holds: its plan, and the topic offset after that revision's last part if known. */
export interface KeptPlan {
  readonly change: PlanChange;
  readonly fragments: FragmentJson[];
  readonly nextOffset?: bigint;
}

/**
 * The plan a node's host was last brought to, kept on the node (STATE_FILE) so that a restart
 * needs neither the API nor any address Netledger itself programs. It is one plan message, the
 * format of the plan topic and the API's snapshot, and it is read back through the same
 * validation. Writes are atomic (a temporary file renamed) and at most one per `everyMs`: the
 * latest plan is always written, a little later. Beside it (`<file>.offset`), where on the plan
 * topic the revision after it begins, so that a restart reads on from there rather than the
 * whole topic.
 */
export class PlanFile {
  private due: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private lastWrite = -Infinity;

  constructor(
    private readonly path: string,
    private readonly node: string,
    private readonly held: () => KeptPlan | undefined,
    private readonly everyMs: number,
    private readonly log: (message: string) => void,
  ) {}

  /** The plan kept, or undefined (none, another node's, or not valid: said in the log). */
  async read(): Promise<ReceivedChange | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
        this.log(`cannot read ${this.path}: ${String(error)}`);
      return undefined;
    }
    try {
      const received = new PlanAssembler(this.node).add(text);
      if (!received) throw new Error('it holds part of a plan change');
      if (!received.change.manifests.set.some((m) => m.node === this.node))
        throw new Error(`it holds no plan for node ${this.node}`);
      return received;
    } catch (error) {
      this.log(`ignoring ${this.path}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }

  /**
   * The plan topic's offset after the kept revision's last part, when the file beside the plan
   * names it for that revision (else undefined: the topic is read from its beginning).
   */
  async nextOffset(revision: number): Promise<bigint | undefined> {
    try {
      const kept = JSON.parse(await readFile(`${this.path}.offset`, 'utf8')) as {
        revision?: unknown;
        next?: unknown;
      };
      return kept.revision === revision && typeof kept.next === 'string' && /^\d{1,19}$/.test(kept.next)
        ? BigInt(kept.next)
        : undefined;
    } catch {
      return undefined;
    }
  }

  /** The host moved on: the plan it holds is written within `everyMs`. */
  changed(): void {
    if (this.due) return;
    const wait = Math.max(0, this.lastWrite + this.everyMs - performance.now());
    this.due = setTimeout(() => {
      this.due = undefined;
      void this.flush();
    }, wait);
    this.due.unref?.();
  }

  /** Writes the plan the host holds now (at shutdown, and when a write is due). */
  flush(): Promise<void> {
    clearTimeout(this.due);
    this.due = undefined;
    this.writing = this.writing.then(async () => {
      const plan = this.held();
      if (!plan) return;
      this.lastWrite = performance.now();
      const [message] = encodePlanChange(plan.change, plan.fragments, Number.POSITIVE_INFINITY);
      try {
        await mkdir(dirname(this.path), { recursive: true });
        // The offset goes first: until the plan is renamed in, the old plan's revision does not match it.
        if (plan.nextOffset === undefined) await rm(`${this.path}.offset`, { force: true });
        else {
          const offset = JSON.stringify({ revision: plan.change.revision, next: String(plan.nextOffset) });
          await writeFile(`${this.path}.offset.tmp`, offset);
          await rename(`${this.path}.offset.tmp`, `${this.path}.offset`);
        }
        await writeFile(`${this.path}.tmp`, message!.value);
        await rename(`${this.path}.tmp`, this.path);
      } catch (error) {
        this.log(`cannot write ${this.path}: ${String(error)}`);
      }
    });
    return this.writing;
  }
}
