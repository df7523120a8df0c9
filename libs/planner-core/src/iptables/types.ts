/** One rule: the arguments after `-A <chain>`, exactly as written to iptables-restore. */
export type Rule = string;

/** A chain Netledger owns: its name and its rules, in order. */
export interface Chain {
  readonly name: string;
  readonly rules: readonly Rule[];
}

export type TableName = 'filter' | 'nat';

/** One table as iptables-restore takes it: chains declared in order, each with its rules. */
export interface Table {
  readonly name: TableName;
  readonly chains: readonly Chain[];
}

/**
 * A rule Netledger needs in a built-in chain it does not own (INPUT, FORWARD, OUTPUT,
 * PREROUTING, POSTROUTING). kube-proxy prepends these with `iptables -I`, once, and never
 * flushes the built-in chain; so does the executor.
 */
export interface BuiltinJump {
  readonly table: TableName;
  readonly chain: string;
  readonly rule: Rule;
}
