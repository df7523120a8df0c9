import type { KubeKind, Observation } from '@netledger/model';

/**
 * Record what the watch of one kind saw: observations in order, then the resourceVersion the
 * watch has reached. `relist` marks a full list: known objects missing from it were deleted.
 */
export class IngestObservations {
  constructor(
    readonly kind: KubeKind,
    readonly observations: readonly Observation[],
    readonly resourceVersion: string,
    readonly relist: boolean,
  ) {}
}

/** Counts of what a batch of observations became. */
export interface IngestOutcome {
  readonly appended: number;
  readonly rejected: number;
  readonly ignored: number;
}
