import {
  chainKey,
  familyOf,
  type ChainChange,
  type IpFamily,
  type ChainEntry,
  type IptablesTable,
  type JumpEntry,
  type NodeDiff,
  type NodeState,
} from '@netledger/model';

import { canonicalRule } from '../parse/canonical-rule';
import { batchInput } from './batch-input';

const TABLES: readonly IptablesTable[] = ['filter', 'nat'];

/**
 * iptables-restore input that writes every chain of `state` (for `iptables-restore --noflush`), as
 * kube-proxy and flannel write theirs: declarations (which also flush), then rules chain by chain.
 * Jumps from built-in chains are not part of it: they are inserted once, never rewritten.
 */
export function renderStateRestore(state: NodeState, family: IpFamily = 'IPv4'): string {
  return renderState(state, family, { jumps: false, rule: (rule) => rule });
}

/**
 * The node's iptables as `iptables-save` shows them once the executor has applied its state, for
 * a reader (each rule in the form the kernel prints it back, see canonicalRule): per table, every
 * chain Netledger owns, then the jumps from the built-in chains in the order they end up there,
 * then each chain's rules. Built-in chains are not declared (their policy is not Netledger's).
 */
export function renderStateListing(state: NodeState, family: IpFamily = 'IPv4'): string {
  return renderState(state, family, { jumps: true, rule: canonicalRule });
}

/** Whether the state holds entries of `family` (an IPv4-only node has no ip6tables part). */
export function holdsFamily(state: NodeState, family: IpFamily): boolean {
  const of = (e: { family?: IpFamily }) => familyOf(e) === family;
  return [...state.chains.values()].some(of) || [...state.jumps.values()].some(of);
}

function renderState(
  state: NodeState,
  family: IpFamily,
  options: { jumps: boolean; rule: (rule: string) => string },
): string {
  const lines: string[] = [];
  for (const table of TABLES) {
    const chains = [...state.chains.values()].filter((c) => c.table === table && familyOf(c) === family);
    const jumps = options.jumps ? builtinJumpsInHostOrder(state, table, family) : [];
    if (chains.length === 0 && jumps.length === 0) continue;
    lines.push(`*${table}`);
    for (const c of chains) lines.push(`:${c.chain} - [0:0]`);
    for (const j of jumps) lines.push(`-A ${j.chain} ${options.rule(j.rule)}`);
    for (const c of chains) for (const rule of c.rules) lines.push(`-A ${c.chain} ${options.rule(rule)}`);
    lines.push('COMMIT');
  }
  return batchInput(lines);
}

/**
 * A table's jumps from built-in chains as the executor leaves them: per chain, the prepended ones
 * first, in the state's order, then the appended ones (on a host, other agents' rules of that
 * chain come between).
 */
export function builtinJumpsInHostOrder(
  state: NodeState,
  table: IptablesTable,
  family: IpFamily = 'IPv4',
): JumpEntry[] {
  const jumps = [...state.jumps.values()].filter((j) => j.table === table && familyOf(j) === family);
  return [...new Set(jumps.map((j) => j.chain))].flatMap((chain) => {
    const into = jumps.filter((j) => j.chain === chain);
    return [...into.filter((j) => j.position === 'prepend'), ...into.filter((j) => j.position === 'append')];
  });
}

/**
 * iptables-restore --noflush input (ip6tables-restore for `family` IPv6) that applies that
 * family's part of `diff`, touching only what changed. Per table, in one atomic transaction:
 * NOTE: order matters. Jumps are removed first and chains deleted last (`-X` fails while any rule
 * still jumps to the chain); rewritten chains are declared (which flushes them) before their rules;
 * rule edits run in the diff's order, their positions counting from the chain's state at that point.
 * Given the state the diff applies to (`from`), a rule is deleted by its text, not its position,
 * where the text is unique in the chain: on a host whose chain is not what `from` says, the
 * transaction then fails (and the executor reconciles) instead of deleting another rule.
 */
export function renderDiffRestore(diff: NodeDiff, from?: NodeState, family: IpFamily = 'IPv4'): string {
  const lines: string[] = [];
  const ofFamily = (e: { family?: IpFamily }) => familyOf(e) === family;
  for (const table of TABLES) {
    const changes = diff.chains.filter((c) => c.table === table && ofFamily(c));
    const addJumps = diff.jumps.upsert.filter((j) => j.table === table && ofFamily(j));
    const removeJumps = diff.jumps.delete.map(parseJumpKey).filter((j) => j.table === table && ofFamily(j));
    if (changes.length === 0 && addJumps.length === 0 && removeJumps.length === 0) continue;
    lines.push(`*${table}`);
    for (const c of changes) if (c.op !== 'edit') lines.push(`:${c.chain} - [0:0]`);
    for (const j of removeJumps) lines.push(`-D ${j.chain} ${j.rule}`);
    for (const c of changes) lines.push(...changeLines(c, from?.chains.get(chainKey(c))));
    // Prepended jumps go in reverse, so that the first in the state ends up first in the chain.
    for (const j of [...addJumps].reverse())
      if (j.position === 'prepend') lines.push(`-I ${j.chain} 1 ${j.rule}`);
    for (const j of addJumps) if (j.position === 'append') lines.push(`-A ${j.chain} ${j.rule}`);
    for (const c of changes) if (c.op === 'delete') lines.push(`-X ${c.chain}`);
    lines.push('COMMIT');
  }
  return batchInput(lines);
}

function changeLines(c: ChainChange, from: ChainEntry | undefined): string[] {
  switch (c.op) {
    case 'set':
      return c.rules.map((r) => `-A ${c.chain} ${r}`);
    case 'edit': {
      // iptables numbers rules from 1. The chain is followed through the edits to know each
      // deleted rule's text, and how many copies of it the chain holds then.
      const rules = from ? [...from.rules] : undefined;
      const copies = new Map<string, number>();
      for (const r of rules ?? []) copies.set(r, (copies.get(r) ?? 0) + 1);
      return c.edits.map((e) => {
        if (e.op === 'insert') {
          rules?.splice(e.at, 0, e.rule);
          copies.set(e.rule, (copies.get(e.rule) ?? 0) + 1);
          return `-I ${c.chain} ${e.at + 1} ${e.rule}`;
        }
        const [rule] = rules?.splice(e.at, 1) ?? [];
        if (rule === undefined) return `-D ${c.chain} ${e.at + 1}`;
        const n = copies.get(rule)!;
        copies.set(rule, n - 1);
        return n === 1 ? `-D ${c.chain} ${rule}` : `-D ${c.chain} ${e.at + 1}`;
      });
    }
    case 'delete':
      return [];
  }
}

/** Splits a jump key (`ipv4|ipv6/<table>/<chain>/<rule>`) back into its parts. */
export function parseJumpKey(key: string): Pick<JumpEntry, 'family' | 'table' | 'chain' | 'rule'> {
  const [family, table, chain, ...rule] = key.split('/');
  return {
    ...(family === 'ipv6' ? { family: 'IPv6' as const } : {}),
    table: table as IptablesTable,
    chain: chain!,
    rule: rule.join('/'),
  };
}
