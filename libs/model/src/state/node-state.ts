/**
 * A node's desired (or actual) dataplane state as keyed entries: iptables chains Netledger owns,
 * its jumps from built-in chains, the overlay device, routes, neighbours and FDB entries.
 * Entries are immutable values; states share entries freely (structural sharing).
 */

import type { IpFamily } from '../net/ip';

export type IptablesTable = 'filter' | 'nat';

/*
 * iptables entries belong to one IP family, as kube-proxy runs one proxier per family: IPv4 ones
 * go to iptables, IPv6 ones (family: 'IPv6') to ip6tables. IPv4 entries carry no family field, so
 * they (and every digest over them) are what they were before IPv6 was planned.
 */

/** The IP family of an iptables entry (absent: IPv4). */
export const familyOf = (e: { readonly family?: IpFamily | undefined }): IpFamily => e.family ?? 'IPv4';

/** `{ family: 'IPv6' }` for an IPv6 entry, nothing for an IPv4 one (spread into an entry). */
export const familyField = (family: IpFamily | undefined): { family?: 'IPv6' } =>
  family === 'IPv6' ? { family } : {};

/** A chain Netledger owns completely (it declares, flushes and deletes it). Key: chainKey(). */
export interface ChainEntry {
  readonly family?: 'IPv6';
  readonly table: IptablesTable;
  readonly chain: string;
  /** Rules as written after `-A <chain>`. */
  readonly rules: readonly string[];
}

/**
 * A rule Netledger owns inside a built-in chain it does not (INPUT, FORWARD, POSTROUTING, ...).
 * kube-proxy prepends its jumps; flannel appends its own. Other rules there are left alone.
 */
export interface JumpEntry {
  readonly family?: 'IPv6';
  readonly table: IptablesTable;
  readonly chain: string;
  readonly rule: string;
  readonly position: 'prepend' | 'append';
}

/** The VXLAN device of the overlay (flannel.<VNI>). */
export interface VxlanDevice {
  readonly name: string;
  readonly vni: number;
  /** UDP destination port. */
  readonly port: number;
  /** Underlay address the device sends from. */
  readonly localIp: string;
  readonly mac: string;
  readonly mtu: number;
  /** "ip/prefix" assigned to the device. */
  readonly address: string;
  readonly learning: boolean;
  readonly gbp: boolean;
}

/** A route Netledger owns, keyed by destination. `dev` null: the kernel picks the device. */
export interface RouteEntry {
  readonly dst: string;
  readonly via: string;
  readonly dev: string | null;
  readonly onlink: boolean;
}

/** A permanent neighbour (ARP) entry, keyed by (dev, ip). */
export interface NeighbourEntry {
  readonly dev: string;
  readonly ip: string;
  readonly lladdr: string;
}

/** A permanent bridge FDB entry on the VXLAN device, keyed by (dev, mac, dst). */
export interface FdbEntry {
  readonly dev: string;
  readonly mac: string;
  readonly dst: string;
}

export interface NodeState {
  readonly chains: ReadonlyMap<string, ChainEntry>;
  readonly jumps: ReadonlyMap<string, JumpEntry>;
  readonly devices: ReadonlyMap<string, VxlanDevice>;
  readonly routes: ReadonlyMap<string, RouteEntry>;
  readonly neighbours: ReadonlyMap<string, NeighbourEntry>;
  readonly fdb: ReadonlyMap<string, FdbEntry>;
}

const familyPrefix = (e: { readonly family?: IpFamily | undefined }) =>
  familyOf(e) === 'IPv6' ? 'ipv6' : 'ipv4';
export const chainKey = (c: { family?: IpFamily | undefined; table: IptablesTable; chain: string }) =>
  `${familyPrefix(c)}/${c.table}/${c.chain}`;
export const jumpKey = (j: JumpEntry) => `${familyPrefix(j)}/${j.table}/${j.chain}/${j.rule}`;
export const deviceKey = (d: VxlanDevice) => d.name;
export const routeKey = (r: RouteEntry) => r.dst;
export const neighbourKey = (n: NeighbourEntry) => `${n.dev}/${n.ip}`;
export const fdbKey = (f: FdbEntry) => `${f.dev}/${f.mac}/${f.dst}`;

export const EMPTY_NODE_STATE: NodeState = {
  chains: new Map(),
  jumps: new Map(),
  devices: new Map(),
  routes: new Map(),
  neighbours: new Map(),
  fdb: new Map(),
};

/** Builds a state from entry lists, keying each. */
export function nodeState(parts: {
  chains?: Iterable<ChainEntry>;
  jumps?: Iterable<JumpEntry>;
  devices?: Iterable<VxlanDevice>;
  routes?: Iterable<RouteEntry>;
  neighbours?: Iterable<NeighbourEntry>;
  fdb?: Iterable<FdbEntry>;
}): NodeState {
  const keyed = <T>(items: Iterable<T> | undefined, key: (t: T) => string) => {
    const map = new Map<string, T>();
    for (const item of items ?? []) map.set(key(item), item);
    return map;
  };
  return {
    chains: keyed(parts.chains, chainKey),
    jumps: keyed(parts.jumps, jumpKey),
    devices: keyed(parts.devices, deviceKey),
    routes: keyed(parts.routes, routeKey),
    neighbours: keyed(parts.neighbours, neighbourKey),
    fdb: keyed(parts.fdb, fdbKey),
  };
}

/**
 * A change from one revision of a node's state to the next. Chains change whole (`set`), by
 * rule edits (`edit`, applied in order to the old rules; positions 0-based), or go away.
 */
export type ChainChange =
  | {
      readonly op: 'set';
      readonly family?: 'IPv6';
      readonly table: IptablesTable;
      readonly chain: string;
      readonly rules: readonly string[];
    }
  | {
      readonly op: 'edit';
      readonly family?: 'IPv6';
      readonly table: IptablesTable;
      readonly chain: string;
      readonly edits: readonly RuleEdit[];
    }
  | {
      readonly op: 'delete';
      readonly family?: 'IPv6';
      readonly table: IptablesTable;
      readonly chain: string;
    };

export type RuleEdit =
  | { readonly op: 'insert'; readonly at: number; readonly rule: string }
  | { readonly op: 'delete'; readonly at: number };

/** Upserts (whole new values) and deletes (by key) of one kind of keyed entry. */
export interface EntryChanges<T> {
  readonly upsert: readonly T[];
  readonly delete: readonly string[];
}

/**
 * Connection-tracking entries to delete with a revision, as kube-proxy does for UDP: flows to a
 * service whose endpoint went away (`replySrc`), and flows to a service that had no endpoints and
 * now has some (they were black-holed). Matches `conntrack -D -p udp --orig-dst <ip>
 * [--orig-port-dst <port>] [--reply-src <ip>]`; `origDst` absent means any destination (NodePorts).
 */
export interface ConntrackDeletion {
  readonly protocol: 'udp';
  readonly origDst?: string;
  readonly origPortDst?: number;
  readonly replySrc?: string;
}

export interface NodeDiff {
  readonly chains: readonly ChainChange[];
  readonly jumps: EntryChanges<JumpEntry>;
  readonly devices: EntryChanges<VxlanDevice>;
  readonly routes: EntryChanges<RouteEntry>;
  readonly neighbours: EntryChanges<NeighbourEntry>;
  readonly fdb: EntryChanges<FdbEntry>;
  /** Run after the rules are in place; not part of the state. */
  readonly conntrack?: readonly ConntrackDeletion[];
}

const none = { upsert: [], delete: [] } as const;
export const EMPTY_NODE_DIFF: NodeDiff = {
  chains: [],
  jumps: none,
  devices: none,
  routes: none,
  neighbours: none,
  fdb: none,
};

/** True when the diff changes nothing. */
export function isEmptyDiff(d: NodeDiff): boolean {
  return (
    (d.conntrack ?? []).length === 0 &&
    d.chains.length === 0 &&
    [d.jumps, d.devices, d.routes, d.neighbours, d.fdb].every(
      (c) => c.upsert.length === 0 && c.delete.length === 0,
    )
  );
}
