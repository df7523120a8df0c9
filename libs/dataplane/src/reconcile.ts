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
  const diff = diffNodeStates(withKernelPickedDevices(actual, desired), printed);
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

/**
 * A route placed without a device (DirectRouting's, `dev: null`) reads back with the device the
 * kernel picked: that is the route as placed, not drift.
 */
function withKernelPickedDevices(actual: NodeState, desired: NodeState): NodeState {
  const picked = [...actual.routes.values()].filter(
    (r) => r.dev !== null && desired.routes.get(r.dst)?.dev === null,
  );
  if (picked.length === 0) return actual;
  const routes = new Map(actual.routes);
  for (const r of picked) routes.set(r.dst, { ...r, dev: null });
  return { ...actual, routes };
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
