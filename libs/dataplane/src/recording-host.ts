import { EMPTY_NODE_STATE, type NodeDiff, type NodeState } from '@netledger/model';
import {
  applyNodeDiff,
  conntrackArgs,
  formatOverlayOps,
  renderDiffOverlay,
  renderDiffRestore,
} from '@netledger/planner-core';
import type { ApplyReport, DataplaneHost } from './host';
import { asHostPrints } from './reconcile';

const KEPT_OPERATIONS = 16;

/**
 * An in-memory host, for tests and dry runs: it applies diffs to a NodeState and remembers the
 * operations a Linux host would have run. `fail` makes the next applies throw (fault injection).
 */
export class RecordingHost implements DataplaneHost {
  state: NodeState = EMPTY_NODE_STATE;
  /** The operations of the last applies (a few: a dry-run executor runs for ever). */
  readonly log: string[] = [];
  /** How many diffs it has applied. */
  applied = 0;
  fail = 0;

  /** `onApply` sees the operations of each applied diff (the executor's --dry-run prints them). */
  constructor(private readonly onApply?: (operations: string) => void) {}

  async apply(diff: NodeDiff, from: NodeState): Promise<ApplyReport> {
    if (this.fail > 0) {
      this.fail--;
      throw new Error('injected failure');
    }
    const restore = renderDiffRestore(diff, from, 'IPv4');
    const restore6 = renderDiffRestore(diff, from, 'IPv6');
    const conntrack = (diff.conntrack ?? [])
      .map((d) => `# conntrack ${conntrackArgs(d).join(' ')}\n`)
      .join('');
    const operations = `${restore ? `# iptables-restore --noflush\n${restore}` : ''}${restore6 ? `# ip6tables-restore --noflush\n${restore6}` : ''}${formatOverlayOps(renderDiffOverlay(from, diff))}${conntrack}`;
    this.state = applyNodeDiff(this.state, diff);
    this.applied++;
    this.log.push(operations);
    if (this.log.length > KEPT_OPERATIONS) this.log.shift();
    this.onApply?.(operations);
    return { iptablesMs: 0, overlayMs: 0, operations };
  }

  /** As a Linux host reads back: iptables-save cannot tell a prepended jump from an appended one. */
  async read(): Promise<NodeState> {
    return asHostPrints(this.state);
  }
}
