import {
  chainKey,
  familyField,
  NetledgerError,
  type IpFamily,
  type ChainEntry,
  type IptablesTable,
  type JumpEntry,
  type NodeState,
} from '@netledger/model';
import { KUBE_PROXY_CHAINS } from '../kube-proxy/constants';

/** One table of an iptables-save (or iptables-restore) text: chains in order, rules in order. */
export interface SavedTable {
  readonly name: string;
  /** Chain name → its policy ("-" for user chains) and rules (the text after `-A <chain> `). */
  readonly chains: Map<string, { policy: string; rules: string[] }>;
}

/**
 * Parses `iptables-save` output, or iptables-restore input of the same grammar. Comments and
 * counters are ignored; a line that is not part of the grammar throws INPUT.INVALID_IPTABLES_SAVE.
 */
export function parseIptablesSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let current: SavedTable | undefined;
  text.split('\n').forEach((raw, index) => {
    const line = raw.trimEnd();
    if (line === '' || line.startsWith('#')) return;
    const fail = (why: string): never => {
      throw new NetledgerError(
        'INPUT.INVALID_IPTABLES_SAVE',
        `line ${index + 1}: ${why}: ${line.slice(0, 120)}`,
      );
    };
    if (line.startsWith('*')) {
      current = { name: line.slice(1), chains: new Map() };
      tables.set(current.name, current);
      return;
    }
    if (!current) fail('outside a table');
    const table = current!;
    if (line === 'COMMIT') {
      current = undefined;
      return;
    }
    if (line.startsWith(':')) {
      const m = /^:(\S+) (\S+)/.exec(line);
      if (!m) fail('malformed chain line');
      const existing = table.chains.get(m![1]!);
      if (existing) existing.policy = m![2]!;
      else table.chains.set(m![1]!, { policy: m![2]!, rules: [] });
      return;
    }
    const m = /^-A (\S+) (.*)$/.exec(line);
    if (!m) fail('not a rule, chain or table line');
    let chain = table.chains.get(m![1]!);
    if (!chain) table.chains.set(m![1]!, (chain = { policy: '-', rules: [] }));
    chain.rules.push(m![2]!);
  });
  if (current) throw new NetledgerError('INPUT.INVALID_IPTABLES_SAVE', `table ${current.name} has no COMMIT`);
  return tables;
}

const BUILTIN = new Set(['INPUT', 'OUTPUT', 'FORWARD', 'PREROUTING', 'POSTROUTING']);

/**
 * The chains and jumps Netledger owns, read back from parsed iptables-save output (ip6tables-save
 * for `family` IPv6): user chains for which `owns(chain)` holds, and rules in built-in chains that
 * jump to one of them.
 */
export function ownedIptables(
  tables: Map<string, SavedTable>,
  owns: (chain: string) => boolean,
  family: IpFamily = 'IPv4',
): { chains: ChainEntry[]; jumps: Omit<JumpEntry, 'position'>[] } {
  const tagged = familyField(family);
  const chains: ChainEntry[] = [];
  const jumps: Omit<JumpEntry, 'position'>[] = [];
  for (const tableName of ['filter', 'nat'] as IptablesTable[]) {
    const table = tables.get(tableName);
    if (!table) continue;
    for (const [name, chain] of table.chains) {
      if (BUILTIN.has(name)) {
        for (const rule of chain.rules) {
          const target = / -j (\S+)/.exec(` ${rule}`)?.[1];
          if (target && owns(target)) jumps.push({ ...tagged, table: tableName, chain: name, rule });
        }
      } else if (owns(name)) chains.push({ ...tagged, table: tableName, chain: name, rules: chain.rules });
    }
  }
  return { chains, jumps };
}

/** kube-proxy's top-level chains; KUBE-FIREWALL is owned where a desired state holds it (ownsChain). */
const TOP_LEVEL_CHAINS: ReadonlySet<string> = new Set(KUBE_PROXY_CHAINS);
/** A service port's chains: the family, then 16 characters of base32 of a sha256 (chain-names.ts). */
const HASHED_CHAIN = /^KUBE-(SVC|SVL|EXT|FW|SEP)-[A-Z2-7]{16}$/;

/**
 * The chains Netledger owns whether or not the desired state holds them (it garbage-collects
 * them): kube-proxy's top-level chains, the hashed per-service families, and flannel's FLANNEL-*.
 * Every other chain is left alone, however it is named: kubelet's KUBE-KUBELET-CANARY,
 * kube-proxy's KUBE-PROXY-CANARY, another agent's.
 */
export function isNetledgerChain(name: string): boolean {
  return TOP_LEVEL_CHAINS.has(name) || HASHED_CHAIN.test(name) || name.startsWith('FLANNEL-');
}

/** Whether Netledger owns `chain` of `family` on a host whose desired state is `desired`. */
export function ownsChain(desired: NodeState, chain: string, family: IpFamily = 'IPv4'): boolean {
  return (
    isNetledgerChain(chain) ||
    desired.chains.has(chainKey({ family, table: 'filter', chain })) ||
    desired.chains.has(chainKey({ family, table: 'nat', chain }))
  );
}
