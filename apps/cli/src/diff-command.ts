import { isEmptyDiff } from '@netledger/model';
import {
  diffNodeStates,
  formatOverlayOps,
  renderDiffOverlay,
  renderDiffRestore,
} from '@netledger/planner-core';
import { planNodeFromFiles, type PlanningFiles } from './planning';

export interface DiffOptions extends PlanningFiles {
  from: string;
  to: string;
  node: string;
}

/**
 * `netledger diff`: the exact host operations that take a node from its state under one cluster
 * file to its state under another: iptables-restore and ip6tables-restore --noflush input, then the ip and bridge
 * batches, in the order the executor runs them.
 */
export function diffCommand(options: DiffOptions): string {
  const from = planNodeFromFiles(options.from, options.node, options);
  const to = planNodeFromFiles(options.to, options.node, options);
  const diff = diffNodeStates(from, to);
  if (isEmptyDiff(diff)) return `# no change for node ${options.node}\n`;
  const restore = renderDiffRestore(diff, from, 'IPv4');
  const restore6 = renderDiffRestore(diff, from, 'IPv6');
  return `${restore ? `# iptables-restore --noflush\n${restore}` : ''}${restore6 ? `# ip6tables-restore --noflush\n${restore6}` : ''}${formatOverlayOps(renderDiffOverlay(from, diff))}`;
}
