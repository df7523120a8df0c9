import type { BuiltinJump, Table } from './types';

/**
 * iptables-restore input for `tables`, as kube-proxy writes it (to be used with --noflush):
 * each table's chain declarations (which also flush them), then its rules chain by chain.
 */
export function renderRestore(tables: readonly Table[]): string {
  const lines: string[] = [];
  for (const table of tables) {
    lines.push(`*${table.name}`);
    for (const chain of table.chains) lines.push(`:${chain.name} - [0:0]`);
    for (const chain of table.chains) for (const rule of chain.rules) lines.push(`-A ${chain.name} ${rule}`);
    lines.push('COMMIT');
  }
  return `${lines.join('\n')}\n`;
}

/** The jumps as `iptables -t <table> -I <chain> 1 ...` would add them, one line each. */
export function renderJumps(jumps: readonly BuiltinJump[]): string {
  return jumps.map((j) => `-t ${j.table} -A ${j.chain} ${j.rule}\n`).join('');
}
