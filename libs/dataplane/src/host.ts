import type { NodeDiff, NodeState } from '@netledger/model';

/** What an applied diff cost, and what it ran. */
export interface ApplyReport {
  readonly iptablesMs: number;
  readonly overlayMs: number;
  /** The operations, as the host tools took them (for dry runs and logs). */
  readonly operations: string;
}

/**
 * A node's dataplane as the executor programs it: apply a diff on top of the state the host is
 * in, and read back the entries Netledger owns (in the host's own notation: iptables-save's
 * canonical rules).
 */
export interface DataplaneHost {
  apply(diff: NodeDiff, from: NodeState): Promise<ApplyReport>;
  read(): Promise<NodeState>;
}
