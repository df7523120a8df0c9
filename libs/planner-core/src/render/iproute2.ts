import {
  fdbKey,
  neighbourKey,
  routeKey,
  type FdbEntry,
  type NeighbourEntry,
  type NodeDiff,
  type NodeState,
  type RouteEntry,
  type VxlanDevice,
} from '@netledger/model';

import { batchInput } from './batch-input';

/**
 * Host operations for the overlay, as the lines `ip -batch -` and `bridge -batch -` read.
 * NOTE: order matters (as in Calico Felix's vxlan manager): route removes, then VTEP removes, then
 * VTEP adds, then route adds, so no route ever points at a VTEP that is not there; the device is
 * created first and deleted last.
 */
export interface OverlayOps {
  /** `ip -batch`: device creation or update, route and neighbour removals. */
  readonly ipBefore: readonly string[];
  /** `bridge -batch`: FDB removals, then additions. */
  readonly bridge: readonly string[];
  /** `ip -batch`: neighbour and route additions, then device removal. */
  readonly ipAfter: readonly string[];
}

export const routeLine = (verb: 'replace' | 'del', r: RouteEntry) =>
  `route ${verb} ${r.dst} via ${r.via}${r.dev ? ` dev ${r.dev}` : ''}${r.onlink && verb === 'replace' ? ' onlink' : ''}`;
export const neighbourLine = (verb: 'replace' | 'del', n: NeighbourEntry) =>
  verb === 'replace'
    ? `neigh replace ${n.ip} lladdr ${n.lladdr} dev ${n.dev} nud permanent`
    : `neigh del ${n.ip} dev ${n.dev}`;
/** flannel sets FDB entries with NLM_F_REPLACE (netlink NeighSet), i.e. `bridge fdb replace`. */
export const fdbLine = (verb: 'replace' | 'del', f: FdbEntry) =>
  verb === 'replace'
    ? `fdb replace ${f.mac} dev ${f.dev} dst ${f.dst} self permanent`
    : `fdb del ${f.mac} dev ${f.dev} dst ${f.dst} self`;

/** The attributes a VXLAN device cannot change in place: a change means delete and re-create. */
export function needsRecreate(from: VxlanDevice, to: VxlanDevice): boolean {
  return (
    from.vni !== to.vni ||
    from.port !== to.port ||
    from.localIp !== to.localIp ||
    from.gbp !== to.gbp ||
    from.learning !== to.learning
  );
}

export function createDeviceLines(d: VxlanDevice): string[] {
  return [
    `link add ${d.name} type vxlan id ${d.vni} local ${d.localIp} dstport ${d.port} nolearning${d.gbp ? ' gbp' : ''}`,
    `link set ${d.name} address ${d.mac} mtu ${d.mtu}`,
    `addr replace ${d.address} dev ${d.name}`,
    `link set ${d.name} up`,
  ];
}

/**
 * A device changed in place. Setting its address (a new VTEP MAC) makes the kernel flush every
 * neighbour entry on it (NETDEV_CHANGEADDR): the caller adds them back. An MTU change alone
 * leaves them.
 */
function updateDeviceLines(from: VxlanDevice, to: VxlanDevice): string[] {
  const lines: string[] = [];
  if (from.mac !== to.mac) lines.push(`link set ${to.name} address ${to.mac}`);
  if (from.mtu !== to.mtu) lines.push(`link set ${to.name} mtu ${to.mtu}`);
  if (from.address !== to.address)
    lines.push(`addr replace ${to.address} dev ${to.name}`, `addr del ${from.address} dev ${to.name}`);
  return lines;
}

/** Every overlay entry of `state`, as operations on a host that has none of them. */
export function renderStateOverlay(state: NodeState): OverlayOps {
  return {
    ipBefore: [...state.devices.values()].flatMap(createDeviceLines),
    bridge: [...state.fdb.values()].map((f) => fdbLine('replace', f)),
    ipAfter: [
      ...[...state.neighbours.values()].map((n) => neighbourLine('replace', n)),
      ...[...state.routes.values()].map((r) => routeLine('replace', r)),
    ],
  };
}

/**
 * The operations that apply the overlay part of `diff` to a host in state `from`. A device that
 * must be re-created loses its routes, neighbours and FDB entries, and one whose MAC changes
 * loses its neighbours: they are all added back (and not deleted first: they are gone).
 */
export function renderDiffOverlay(from: NodeState, diff: NodeDiff): OverlayOps {
  const ipBefore: string[] = [];
  const bridge: string[] = [];
  const ipAfter: string[] = [];
  /** Devices that come back without routes, neighbours or FDB entries. */
  const recreated = new Set<string>();
  /** Devices that come back without neighbours (a new address). */
  const flushed = new Set<string>();
  for (const d of diff.devices.upsert) {
    const old = from.devices.get(d.name);
    if (!old) ipBefore.push(...createDeviceLines(d));
    else if (needsRecreate(old, d)) {
      ipBefore.push(`link del ${d.name}`, ...createDeviceLines(d));
      recreated.add(d.name);
      flushed.add(d.name);
    } else {
      ipBefore.push(...updateDeviceLines(old, d));
      if (old.mac !== d.mac) flushed.add(d.name);
    }
  }
  const on = (set: ReadonlySet<string>, dev: string | null) => dev !== null && set.has(dev);
  for (const key of diff.routes.delete) {
    const r = from.routes.get(key);
    if (r && !on(recreated, r.dev)) ipBefore.push(routeLine('del', r));
  }
  for (const key of diff.neighbours.delete) {
    const n = from.neighbours.get(key);
    if (n && !on(flushed, n.dev)) ipBefore.push(neighbourLine('del', n));
  }
  for (const key of diff.fdb.delete) {
    const f = from.fdb.get(key);
    if (f && !on(recreated, f.dev)) bridge.push(fdbLine('del', f));
  }
  const keep = <T extends { dev: string | null }>(
    devices: ReadonlySet<string>,
    entries: Iterable<T>,
    deleted: readonly string[],
    key: (t: T) => string,
  ) =>
    devices.size === 0 ? [] : [...entries].filter((e) => on(devices, e.dev) && !deleted.includes(key(e)));
  const fdbAdds = [...diff.fdb.upsert, ...keep(recreated, from.fdb.values(), diff.fdb.delete, fdbKey)];
  const neighbourAdds = [
    ...diff.neighbours.upsert,
    ...keep(flushed, from.neighbours.values(), diff.neighbours.delete, neighbourKey),
  ];
  const routeAdds = [
    ...diff.routes.upsert,
    ...keep(recreated, from.routes.values(), diff.routes.delete, routeKey),
  ];
  bridge.push(...dedupe(fdbAdds, fdbKey).map((f) => fdbLine('replace', f)));
  ipAfter.push(...dedupe(neighbourAdds, neighbourKey).map((n) => neighbourLine('replace', n)));
  ipAfter.push(...dedupe(routeAdds, routeKey).map((r) => routeLine('replace', r)));
  for (const name of diff.devices.delete) ipAfter.push(`link del ${name}`);
  return { ipBefore, bridge, ipAfter };
}

function dedupe<T>(items: readonly T[], key: (t: T) => string): T[] {
  const seen = new Map<string, T>();
  for (const item of items) if (!seen.has(key(item))) seen.set(key(item), item);
  return [...seen.values()];
}

/** The operations as one text: `ip -batch` and `bridge -batch` sections, each under a comment. */
export function formatOverlayOps(ops: OverlayOps): string {
  const out: string[] = [];
  if (ops.ipBefore.length) out.push('# ip -batch -', ...ops.ipBefore);
  if (ops.bridge.length) out.push('# bridge -batch -', ...ops.bridge);
  if (ops.ipAfter.length) out.push('# ip -batch -', ...ops.ipAfter);
  return batchInput(out);
}
