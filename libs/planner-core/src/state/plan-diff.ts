import {
  familyField,
  fdbKey,
  neighbourKey,
  routeKey,
  type ChainChange,
  type ChainEntry,
  type EntryChanges,
  type FdbEntry,
  type IpFamily,
  type IptablesTable,
  type NeighbourEntry,
  type NodeDiff,
  type RouteEntry,
  type RuleEdit,
} from '@netledger/model';
import {
  KUBE_EXTERNAL_SERVICES,
  KUBE_NODEPORTS,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
} from '../kube-proxy/constants';
import type { NodeProxyPlan, ServiceTable } from '../kube-proxy/node-plan';
import type { ServiceFragment } from '../kube-proxy/service-fragment';
import { nodeStateOf, peerEntriesOn, type ModelChanges, type NodePlan } from '../network-planner';
import { chainChange, diffNodeStates } from './diff';
import { ruleEdits } from './rule-edits';

/*
 * The diff between two plans of one node, computed from what changed (service ports, peer
 * nodes) instead of from two materialised states: O(changes), not O(rules). It equals
 * diffNodeStates(nodeStateOf(from), nodeStateOf(to)) in effect (applying either gives the same
 * state; a test holds them to that).
 *
 * The long shared chains (KUBE-SERVICES holds a rule per service port) change by rule edits at
 * the changed ports' positions. Positions come from per-table prefix sums shared by every node
 * of a profile, corrected by the node's few overrides.
 */

type Slot = {
  readonly table: IptablesTable;
  readonly chain: string;
  readonly rules: (f: ServiceFragment) => readonly string[];
};

const SLOTS: readonly Slot[] = [
  { table: 'filter', chain: KUBE_SERVICES, rules: (f) => f.filterServices },
  { table: 'filter', chain: KUBE_EXTERNAL_SERVICES, rules: (f) => f.filterExternalServices },
  { table: 'filter', chain: KUBE_NODEPORTS, rules: (f) => f.filterNodePorts },
  { table: 'filter', chain: KUBE_PROXY_FIREWALL, rules: (f) => f.filterProxyFirewall },
  { table: 'nat', chain: KUBE_SERVICES, rules: (f) => f.natServices },
  { table: 'nat', chain: KUBE_NODEPORTS, rules: (f) => f.natNodePorts },
];

/** prefix[slot][i] = rules of that slot in the table's fragments before order[i]. */
const prefixCache = new WeakMap<ServiceTable, Int32Array[]>();

function prefixes(table: ServiceTable): Int32Array[] {
  let p = prefixCache.get(table);
  if (!p) {
    p = SLOTS.map((slot) => {
      const sums = new Int32Array(table.order.length + 1);
      table.order.forEach((name, i) => {
        const f = table.fragments.get(name);
        sums[i + 1] = sums[i]! + (f ? slot.rules(f).length : 0);
      });
      return sums;
    });
    prefixCache.set(table, p);
  }
  return p;
}

/** Index of the first name in sorted `order` not less than `name`. */
function lowerBound(order: readonly string[], name: string): number {
  let lo = 0;
  let hi = order.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (order[mid]! < name) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const fragmentOf = (plan: NodeProxyPlan, port: string) =>
  plan.overrides.get(port) ?? plan.services.fragments.get(port);

/** Rules of `slot` in `plan` before port `name` (which need not exist in the plan). */
function rulesBefore(plan: NodeProxyPlan, slotIndex: number, name: string): number {
  const { services, overrides } = plan;
  const index = lowerBound(services.order, name);
  let count = prefixes(services)[slotIndex]![index]!;
  const slot = SLOTS[slotIndex]!;
  for (const [port, fragment] of overrides) {
    if (port >= name) continue;
    const base = services.fragments.get(port);
    count += slot.rules(fragment).length - (base ? slot.rules(base).length : 0);
  }
  return count;
}

const sameArray = (a: readonly string[], b: readonly string[]) =>
  a === b || (a.length === b.length && a.every((x, i) => x === b[i]));

function entryChanges<T>(
  old: readonly T[],
  next: readonly T[],
  key: (t: T) => string,
  into: { upsert: T[]; delete: string[] },
): void {
  const nextKeys = new Set(next.map(key));
  for (const o of old) if (!nextKeys.has(key(o))) into.delete.push(key(o));
  const oldByKey = new Map(old.map((o) => [key(o), o]));
  for (const n of next) {
    const o = oldByKey.get(key(n));
    if (!o || JSON.stringify(o) !== JSON.stringify(n)) into.upsert.push(n);
  }
}

/**
 * The diff from plan `from` to plan `to` of the same node, given what changed in the model
 * between them. Falls back to comparing materialised states when the node's profile or its own
 * overlay identity changed, or when everything did.
 */
export function diffNodePlans(from: NodePlan, to: NodePlan, changes: ModelChanges): NodeDiff {
  const k0 = from.kubeProxy;
  const k1 = to.kubeProxy;
  if (
    changes.all ||
    k0.fixed !== k1.fixed ||
    from.kubeProxy6?.fixed !== to.kubeProxy6?.fixed ||
    changes.nodes.has(to.node) ||
    from.overlay.config !== to.overlay.config
  ) {
    return diffNodeStates(nodeStateOf(from), nodeStateOf(to));
  }

  const chains: ChainChange[] = [];
  const ports = [...changes.ports].sort();
  serviceChanges(k0, k1, ports, 'IPv4', chains);
  if (from.kubeProxy6 && to.kubeProxy6) serviceChanges(from.kubeProxy6, to.kubeProxy6, ports, 'IPv6', chains);

  const routes = { upsert: [] as RouteEntry[], delete: [] as string[] };
  const neighbours = { upsert: [] as NeighbourEntry[], delete: [] as string[] };
  const fdb = { upsert: [] as FdbEntry[], delete: [] as string[] };
  for (const peer of changes.nodes) {
    const before = peerEntriesOn(from.overlay, peer);
    const after = peerEntriesOn(to.overlay, peer);
    entryChanges(before.routes, after.routes, routeKey, routes);
    entryChanges(before.neighbours, after.neighbours, neighbourKey, neighbours);
    entryChanges(before.fdb, after.fdb, fdbKey, fdb);
  }
  const none: EntryChanges<never> = { upsert: [], delete: [] };
  return { chains, jumps: none, devices: none, routes, neighbours, fdb };
}

/** The chain changes of one proxier's changed service ports (rule edits in the shared chains). */
function serviceChanges(
  k0: NodeProxyPlan,
  k1: NodeProxyPlan,
  ports: readonly string[],
  family: IpFamily,
  chains: ChainChange[],
): void {
  const tagged = familyField(family);
  const slotEdits: RuleEdit[][] = SLOTS.map(() => []);
  for (const port of ports) {
    const oldFragment = fragmentOf(k0, port);
    const newFragment = fragmentOf(k1, port);
    if (oldFragment === newFragment) continue;
    SLOTS.forEach((slot, s) => {
      const before = oldFragment ? slot.rules(oldFragment) : [];
      const after = newFragment ? slot.rules(newFragment) : [];
      if (sameArray(before, after)) return;
      const at = rulesBefore(k1, s, port);
      for (const e of ruleEdits(before, after, before.length + after.length)!)
        slotEdits[s]!.push({ ...e, at: e.at + at });
    });
    const oldChains = new Map<string, ChainEntry>(
      (oldFragment?.natChains ?? []).map((c) => [
        c.name,
        { ...tagged, table: 'nat', chain: c.name, rules: c.rules },
      ]),
    );
    for (const c of newFragment?.natChains ?? []) {
      const old = oldChains.get(c.name);
      oldChains.delete(c.name);
      if (old && old.rules === c.rules) continue;
      const change = chainChange(old, { ...tagged, table: 'nat', chain: c.name, rules: c.rules });
      if (change) chains.push(change);
    }
    for (const old of oldChains.values())
      chains.push({ op: 'delete', ...tagged, table: 'nat', chain: old.chain });
  }
  SLOTS.forEach((slot, s) => {
    if (slotEdits[s]!.length > 0)
      chains.push({ op: 'edit', ...tagged, table: slot.table, chain: slot.chain, edits: slotEdits[s]! });
  });
}
