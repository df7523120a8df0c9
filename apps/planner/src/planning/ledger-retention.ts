import {
  ConsoleLogger,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { PLANNER_SETTINGS, type PlannerSettings } from '../planner-settings';
import { PlannerStore } from './planner-store';

/** What one run of the retention removed. */
export interface RetentionRun {
  /** The revision history was folded into (undefined: nothing old enough to fold). */
  readonly revision: number | undefined;
  readonly changes: number;
  readonly fragments: number;
  readonly checkpoints: number;
  readonly clusterEvents: number;
}

/**
 * The ledger's retention: every `LEDGER_RETENTION_CHECK_MS`, history older than
 * `LEDGER_RETENTION_MS` is folded into a checkpoint (PlanLedger.foldBefore), and the cluster
 * events the model has folded past are deleted. Time travel, explain and audit then reach back to
 * the retention; older questions get PLAN.BEYOND_RETENTION. Runs in the planner, the ledger's
 * only writer; the first run waits one interval, so a restart is not slowed by it.
 */
@Injectable()
export class LedgerRetention implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new ConsoleLogger('retention');
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly store: PlannerStore,
    @Inject(PLANNER_SETTINGS) private readonly settings: PlannerSettings,
  ) {}

  onApplicationBootstrap(): void {
    if (this.settings.ledgerRetentionMs === 0) return;
    this.timer = setInterval(() => {
      this.running ??= this.run()
        .catch((error: unknown) =>
          this.logger.warn(`retention failed, trying at the next interval: ${String(error)}`),
        )
        .finally(() => (this.running = undefined));
    }, this.settings.ledgerRetentionCheckMs);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One run, folding what is older than `cutoff` (tests choose it; the timer uses the retention). */
  async run(cutoff = new Date(Date.now() - this.settings.ledgerRetentionMs)): Promise<RetentionRun> {
    const folded = await this.store.ledger.foldBefore(cutoff);
    const clusterEvents = await this.store.pruneClusterEvents(cutoff);
    const run = {
      revision: folded?.revision,
      changes: folded?.changes ?? 0,
      fragments: folded?.fragments ?? 0,
      checkpoints: folded?.checkpoints ?? 0,
      clusterEvents,
    };
    if (folded || clusterEvents > 0)
      this.logger.log(
        `history before ${cutoff.toISOString()} folded${folded ? ` into revision ${folded.revision}` : ''}: ` +
          `${run.changes} changes, ${run.fragments} fragments, ${run.checkpoints} checkpoints, ${clusterEvents} cluster events deleted`,
      );
    return run;
  }
}
