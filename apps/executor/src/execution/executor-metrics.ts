import type { MetricsRegistry } from '@netledger/process';
import type { Counter, Gauge } from 'prom-client';

/** The executor's own Prometheus metrics. */
export class ExecutorMetrics {
  readonly appliedRevision: Gauge;
  readonly driftFound: Counter;
  readonly applyErrors: Counter;
  readonly refused: Counter<'reason'>;

  constructor(metrics: MetricsRegistry) {
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
    this.refused = metrics.counter({
      name: 'netledger_executor_refused_messages_total',
      help: 'Plan messages refused (unsigned, forged, invalid): skipped, nothing of them applied.',
      labelNames: ['reason'],
    });
  }
}
