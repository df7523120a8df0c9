import { jumpKey, nodeState, type NodeDiff, type NodeState } from '@netledger/model';
import { canonicalRule, diffNodeStates } from '@netledger/planner-core';

/**
 * A state in the host's notation: rules as iptables-save prints them, jumps without a position
 * (the host cannot tell). Compare actual with this, never with the desired state as written.
 */
export function asHostPrints(state: NodeState): NodeState {
  return nodeState({
    chains: [...state.chains.values()].map((c) => ({ ...c, rules: c.rules.map(canonicalRule) })),
    jumps: [...state.jumps.values()].map((j) => ({
      ...j,
      rule: canonicalRule(j.rule),
      position: 'prepend' as const,
    })),
    devices: state.devices.values(),
    routes: state.routes.values(),
    neighbours: state.neighbours.values(),
    fdb: state.fdb.values(),
  });
}

/**
 * What it takes to bring a host from `actual` (as read back) to `desired`: a diff in the host's
 * notation (which iptables-restore takes as well). Jumps keep
 * the desired position (prepend for kube-proxy's, append for flannel's).
 */
export function reconcileDiff(actual: NodeState, desired: NodeState): NodeDiff {
  const printed = asHostPrints(desired);
  const diff = diffNodeStates(actual, printed);
  const positions = new Map(
    [...desired.jumps.values()].map((j) => [jumpKey({ ...j, rule: canonicalRule(j.rule) }), j.position]),
  );
  return {
    ...diff,
    jumps: {
      upsert: diff.jumps.upsert.map((j) => ({
        ...j,
        position: positions.get(jumpKey(j)) ?? 'prepend',
      })),
      delete: diff.jumps.delete,
    },
  };
}

/** Number of entries a reconcile diff touches (drift found). */
export function driftCount(diff: NodeDiff): number {
  return (
    diff.chains.length +
    [diff.jumps, diff.devices, diff.routes, diff.neighbours, diff.fdb].reduce(
      (n, c) => n + c.upsert.length + c.delete.length,
      0,
    )
  );
}
