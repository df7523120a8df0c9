import { familyOf, type IpFamily, type NodeState } from '@netledger/model';
import { builtinJumpsInHostOrder } from '@netledger/planner-core';

/**
 * Both sides of the differential test brought to one comparable form: per "table/chain", its
 * rules in order. What kube-proxy leaves to Go's map order is sorted the way upstream's own tests
 * sort it (sortIPTablesRules): chains by name, and the rules of the chains every Service adds to
 * (KUBE-SERVICES, KUBE-NODEPORTS, KUBE-EXTERNAL-SERVICES, KUBE-PROXY-FIREWALL) stably by the
 * service port their comment names, the nodeports jump kept last. Marks are compared by value:
 * kube-proxy writes 0x00004000 where Netledger writes 0x4000, as iptables-save prints it back.
 *
 * One difference is left out on purpose (docs/kube-proxy-fidelity.md): without localhost NodePorts
 * kube-proxy still jumps from INPUT and OUTPUT to a KUBE-FIREWALL chain it does not write (it
 * creates it empty when kubelet has not); Netledger, which does not own that chain then, writes
 * neither the chain nor the jumps. A jump to an empty chain changes no packet's fate.
 */
export type ChainRules = Record<string, string[]>;

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);
const SERVICE_ORDERED = new Set([
  'KUBE-SERVICES',
  'KUBE-NODEPORTS',
  'KUBE-EXTERNAL-SERVICES',
  'KUBE-PROXY-FIREWALL',
]);

const normalizeMarks = (rule: string) => rule.replace(/0x0+(?=[0-9a-f])/g, '0x');

function commentKey(rule: string): string {
  // Several tail rules (one per node IP) come in Go's map order: among themselves, by text.
  if (rule.includes('NOTE: this must be the last rule')) return `\uffff${rule}`;
  const m = /--comment (?:"([^"]*)"|(\S+))/.exec(rule);
  const comment = m?.[1] ?? m?.[2] ?? '';
  return comment.split(' ')[0]!;
}

function normalize(chains: ChainRules): ChainRules {
  const out: ChainRules = {};
  for (const key of Object.keys(chains).sort()) {
    let rules = chains[key]!.map(normalizeMarks);
    if (SERVICE_ORDERED.has(key.split('/')[1]!)) {
      rules = rules
        .map((rule, i) => ({ rule, i, k: commentKey(rule) }))
        .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i))
        .map((x) => x.rule);
    }
    out[key] = rules;
  }
  return out;
}

/** Parses iptables-restore or -save text: declared chains (empty unless rules follow) and rules. */
export function parseTables(text: string): ChainRules {
  const chains: ChainRules = {};
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1);
    else if (line.startsWith(':')) chains[`${table}/${line.slice(1).split(' ')[0]}`] ??= [];
    else if (line.startsWith('-A ')) {
      const [, chain, ...rest] = line.split(' ');
      (chains[`${table}/${chain}`] ??= []).push(rest.join(' '));
    }
  }
  return chains;
}

/** kube-proxy's side: its restore input's chains, and its jumps in the built-in chains. */
export function referenceRules(restore: string, tables: string): { chains: ChainRules; jumps: ChainRules } {
  const after = parseTables(tables);
  const chains = parseTables(restore);
  const ownsFirewall = chains['filter/KUBE-FIREWALL'] !== undefined;
  const jumps: ChainRules = {};
  for (const [key, rules] of Object.entries(after)) {
    if (!BUILTIN.has(key.split('/')[1]!)) continue;
    const kept = rules.filter((rule) => ownsFirewall || rule !== '-j KUBE-FIREWALL');
    if (kept.length > 0) jumps[key] = kept;
  }
  return { chains: normalize(chains), jumps: normalize(jumps) };
}

/**
 * Netledger's side: the kube-proxy chains of a node's state, and its jumps from built-in chains in
 * the order they end up on the host. The fake iptables keeps jumps as kube-proxy's arguments
 * joined by spaces (no quoting), so quotes are dropped from Netledger's jumps to compare.
 */
export function netledgerRules(
  state: NodeState,
  family: IpFamily,
): { chains: ChainRules; jumps: ChainRules } {
  const chains: ChainRules = {};
  for (const c of state.chains.values()) {
    if (c.chain.startsWith('KUBE-') && familyOf(c) === family) chains[`${c.table}/${c.chain}`] = [...c.rules];
  }
  const jumps: ChainRules = {};
  for (const table of ['filter', 'nat'] as const) {
    for (const j of builtinJumpsInHostOrder(state, table, family)) {
      if (!/-j KUBE-/.test(j.rule)) continue;
      (jumps[`${table}/${j.chain}`] ??= []).push(j.rule.replaceAll('"', ''));
    }
  }
  return { chains: normalize(chains), jumps: normalize(jumps) };
}
