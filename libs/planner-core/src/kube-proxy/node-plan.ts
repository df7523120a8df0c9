import type { FixedRules } from './fixed-rules';
import type { NodeProfile } from './node-profile';
import type { ServiceFragment } from './service-fragment';

/**
 * The service fragments shared by every node of one profile: for each service port, the variant a
 * node with no local endpoints and no special firewall treatment gets. Immutable: a change makes a
 * new table that shares every unchanged fragment with the old one.
 */
export interface ServiceTable {
  /** Service port names in rendering order. */
  readonly order: readonly string[];
  readonly fragments: ReadonlyMap<string, ServiceFragment>;
}

/**
 * What kube-proxy would program on one node, composed without copying: the profile's shared
 * service table, the node's few own fragments (`overrides`, by service port name), and the
 * fixed rules of its profile.
 */
export interface NodeProxyPlan {
  readonly node: string;
  /** The profile the plan was computed for; absent in a plan resolved from the ledger (PlanBook). */
  readonly profile?: NodeProfile;
  readonly fixed: FixedRules;
  readonly services: ServiceTable;
  readonly overrides: ReadonlyMap<string, ServiceFragment>;
}

/** Calls `visit` with each service port's fragment on the node, in rendering order. */
export function forEachFragment(plan: NodeProxyPlan, visit: (fragment: ServiceFragment) => void): void {
  const { order, fragments } = plan.services;
  const overrides = plan.overrides;
  for (const name of order) {
    const fragment = (overrides.size > 0 ? overrides.get(name) : undefined) ?? fragments.get(name);
    if (fragment) visit(fragment);
  }
}
