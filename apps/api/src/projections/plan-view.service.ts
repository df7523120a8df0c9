import { ConsoleLogger, Injectable } from '@nestjs/common';
import { PgEventStore, PlanLedger } from '@netledger/event-store';
import { PLAN_CHANGED, type PlanChanged, type RecordedEvent } from '@netledger/model';
import { PlanBook } from '@netledger/planner-core';

/**
 * The plan now, in memory: a PlanBook built from the ledger (last checkpoint and the changes
 * after it) at start and moved on by every PlanChanged the projector reads. Each fragment is held
 * once; a node's state is resolved from it on request, never stored per node.
 */
@Injectable()
export class PlanViewService {
  private readonly logger = new ConsoleLogger('plan-view');
  readonly ledger: PlanLedger;
  private current: PlanBook = new PlanBook();
  private recordedAt: Date | null = null;
  private loading: Promise<void> | undefined;

  constructor(store: PgEventStore) {
    this.ledger = new PlanLedger(store);
  }

  /** The plan at its latest revision (loaded once, then followed). */
  async book(): Promise<PlanBook> {
    this.loading ??= this.load();
    await this.loading;
    return this.current;
  }

  /** When the book's revision was recorded (null before the first). */
  async headRecordedAt(): Promise<Date | null> {
    await this.book();
    return this.recordedAt;
  }

  /** Moves the book on by the plan changes among `events` (older ones are already in). */
  async follow(events: readonly RecordedEvent[]): Promise<void> {
    const book = await this.book();
    for (const e of events) {
      if (e.type !== PLAN_CHANGED) continue;
      const { change } = e.data as PlanChanged;
      if (change.revision <= book.revision) continue;
      if (change.revision !== book.revision + 1) {
        // A change was missed: read the plan from the ledger again rather than stop at it.
        this.logger.error(`plan change ${change.revision} after ${book.revision}: loading the plan again`);
        this.loading = this.load();
        await this.loading;
        return;
      }
      await this.ledger.applyTo(book, change);
      this.recordedAt = e.recordedAt;
    }
  }

  private async load(): Promise<void> {
    const book = await this.ledger.book();
    this.current = book;
    this.recordedAt = book.revision > 0 ? await this.ledger.recordedAt(book.revision) : null;
  }
}
