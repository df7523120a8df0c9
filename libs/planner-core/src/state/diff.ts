import {
  chainKey,
  deviceKey,
  familyField,
  fdbKey,
  jumpKey,
  neighbourKey,
  routeKey,
  type ChainChange,
  type ChainEntry,
  type EntryChanges,
  type NodeDiff,
  type NodeState,
  type RuleEdit,
} from '@netledger/model';
import { ruleEdits } from './rule-edits';

/** Chains at least this long are changed by rule edits when that is smaller than a rewrite. */
const EDIT_THRESHOLD = 8;

function entryChanges<T>(
  from: ReadonlyMap<string, T>,
  to: ReadonlyMap<string, T>,
  same: (a: T, b: T) => boolean,
): EntryChanges<T> {
  const upsert: T[] = [];
  const del: string[] = [];
  for (const [key, value] of to) {
    const old = from.get(key);
    if (old === undefined || (old !== value && !same(old, value))) upsert.push(value);
  }
  for (const key of from.keys()) if (!to.has(key)) del.push(key);
  return { upsert, delete: del };
}

const shallowEqual = <T extends object>(a: T, b: T) => {
  for (const key of Object.keys(a) as (keyof T)[]) if (a[key] !== b[key]) return false;
  return Object.keys(a).length === Object.keys(b).length;
};

const sameRules = (a: readonly string[], b: readonly string[]) =>
  a === b || (a.length === b.length && a.every((r, i) => r === b[i]));

const ruleBytes = (rules: readonly string[]) => rules.reduce((n, r) => n + r.length + 1, 0);
const editBytes = (edits: readonly RuleEdit[]) =>
  edits.reduce((n, e) => n + 8 + (e.op === 'insert' ? e.rule.length : 0), 0);

/** How one chain changes: rule edits when the chain is long and the edits are smaller. */
export function chainChange(from: ChainEntry | undefined, to: ChainEntry): ChainChange | undefined {
  if (from && sameRules(from.rules, to.rules)) return undefined;
  const family = familyField(to.family);
  const set: ChainChange = { op: 'set', ...family, table: to.table, chain: to.chain, rules: to.rules };
  if (!from || from.rules.length < EDIT_THRESHOLD) return set;
  const budget = ruleBytes(to.rules);
  const edits = ruleEdits(from.rules, to.rules, Math.min(512, Math.ceil(to.rules.length / 2) + 1));
  if (!edits || editBytes(edits) >= budget) return set;
  return { op: 'edit', ...family, table: to.table, chain: to.chain, edits };
}

/** The diff that turns `from` into `to`: apply(from, diff(from, to)) equals `to`. */
export function diffNodeStates(from: NodeState, to: NodeState): NodeDiff {
  const chains: ChainChange[] = [];
  for (const [key, entry] of to.chains) {
    const old = from.chains.get(key);
    if (old === entry) continue;
    const change = chainChange(old, entry);
    if (change) chains.push(change);
  }
  for (const [key, entry] of from.chains) {
    if (!to.chains.has(key))
      chains.push({ op: 'delete', ...familyField(entry.family), table: entry.table, chain: entry.chain });
  }
  return {
    chains,
    jumps: entryChanges(from.jumps, to.jumps, shallowEqual),
    devices: entryChanges(from.devices, to.devices, shallowEqual),
    routes: entryChanges(from.routes, to.routes, shallowEqual),
    neighbours: entryChanges(from.neighbours, to.neighbours, shallowEqual),
    fdb: entryChanges(from.fdb, to.fdb, shallowEqual),
  };
}

function applyEntries<T>(
  from: ReadonlyMap<string, T>,
  changes: EntryChanges<T>,
  key: (t: T) => string,
): ReadonlyMap<string, T> {
  if (changes.upsert.length === 0 && changes.delete.length === 0) return from;
  const next = new Map(from);
  for (const k of changes.delete) next.delete(k);
  for (const value of changes.upsert) next.set(key(value), value);
  return next;
}

/** Applies rule edits in order. Throws when an edit does not fit the rules it is applied to. */
export function applyRuleEdits(rules: readonly string[], edits: readonly RuleEdit[]): string[] {
  const next = [...rules];
  for (const e of edits) {
    if (e.at < 0 || e.at > next.length - (e.op === 'delete' ? 1 : 0)) {
      throw new Error(`rule edit ${e.op} at ${e.at} outside a chain of ${next.length} rules`);
    }
    if (e.op === 'delete') next.splice(e.at, 1);
    else next.splice(e.at, 0, e.rule);
  }
  return next;
}

/** The state `diff` leads to from `from`. Unchanged entries are shared with `from`. */
export function applyNodeDiff(from: NodeState, diff: NodeDiff): NodeState {
  let chains: ReadonlyMap<string, ChainEntry> = from.chains;
  if (diff.chains.length > 0) {
    const next = new Map(from.chains);
    for (const change of diff.chains) {
      const key = chainKey(change);
      const family = familyField(change.family);
      if (change.op === 'delete') next.delete(key);
      else if (change.op === 'set')
        next.set(key, { ...family, table: change.table, chain: change.chain, rules: change.rules });
      else {
        const old = next.get(key);
        if (!old) throw new Error(`rule edits for ${key}, which does not exist`);
        next.set(key, {
          ...family,
          table: change.table,
          chain: change.chain,
          rules: applyRuleEdits(old.rules, change.edits),
        });
      }
    }
    chains = next;
  }
  return {
    chains,
    jumps: applyEntries(from.jumps, diff.jumps, jumpKey),
    devices: applyEntries(from.devices, diff.devices, deviceKey),
    routes: applyEntries(from.routes, diff.routes, routeKey),
    neighbours: applyEntries(from.neighbours, diff.neighbours, neighbourKey),
    fdb: applyEntries(from.fdb, diff.fdb, fdbKey),
  };
}

/** Equal as keyed entries (map order does not matter; chain rule order does). */
export function nodeStatesEqual(a: NodeState, b: NodeState): boolean {
  const sameMap = <T>(x: ReadonlyMap<string, T>, y: ReadonlyMap<string, T>, eq: (p: T, q: T) => boolean) =>
    x.size === y.size && [...x].every(([k, v]) => y.has(k) && eq(v, y.get(k)!));
  return (
    sameMap(
      a.chains,
      b.chains,
      (p, q) =>
        p.family === q.family && p.table === q.table && p.chain === q.chain && sameRules(p.rules, q.rules),
    ) &&
    sameMap(a.jumps, b.jumps, shallowEqual) &&
    sameMap(a.devices, b.devices, shallowEqual) &&
    sameMap(a.routes, b.routes, shallowEqual) &&
    sameMap(a.neighbours, b.neighbours, shallowEqual) &&
    sameMap(a.fdb, b.fdb, shallowEqual)
  );
}
