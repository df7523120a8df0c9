import {
  canonicalIp,
  NetledgerError,
  parseCidr,
  formatCidr,
  type FdbEntry,
  type NeighbourEntry,
  type RouteEntry,
  type VxlanDevice,
} from '@netledger/model';

/*
 * Readers of iproute2's JSON output (`ip -json`, `bridge -json`), for comparing a host with its
 * desired state. Every value is validated before it becomes an entry.
 */

const asArray = (json: unknown, what: string): Record<string, unknown>[] => {
  if (!Array.isArray(json))
    throw new NetledgerError('INPUT.INVALID_HOST_JSON', `${what}: expected a JSON array`);
  return json.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null);
};
const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/**
 * `ip [-6] -json route show [table main]` → routes with a gateway (default, unparsable and the
 * kernel's own connected routes skipped).
 */
export function parseIpRoutes(json: unknown): RouteEntry[] {
  const routes: RouteEntry[] = [];
  for (const r of asArray(json, 'ip -json route')) {
    const dstText = str(r.dst);
    if (!dstText || dstText === 'default') continue;
    const cidr = parseCidr(
      dstText.includes('/') ? dstText : `${dstText}/${dstText.includes(':') ? 128 : 32}`,
    );
    const via = str(r.gateway) && canonicalIp(str(r.gateway)!);
    if (!cidr || !via) continue;
    const flags = Array.isArray(r.flags) ? r.flags : [];
    routes.push({ dst: formatCidr(cidr), via, dev: str(r.dev) ?? null, onlink: flags.includes('onlink') });
  }
  return routes;
}

/** `ip -json neigh show dev <dev>` → permanent neighbour entries on `dev`. */
export function parseIpNeighbours(json: unknown, dev: string): NeighbourEntry[] {
  const out: NeighbourEntry[] = [];
  for (const n of asArray(json, 'ip -json neigh')) {
    const ip = str(n.dst) && canonicalIp(str(n.dst)!);
    const lladdr = str(n.lladdr)?.toLowerCase();
    const state = Array.isArray(n.state) ? n.state : [];
    if (!ip || !lladdr || !MAC.test(lladdr) || !state.includes('PERMANENT')) continue;
    out.push({ dev: str(n.dev) ?? dev, ip, lladdr });
  }
  return out;
}

/** `bridge -json fdb show dev <dev>` → permanent unicast entries with a remote destination. */
export function parseBridgeFdb(json: unknown, dev: string): FdbEntry[] {
  const out: FdbEntry[] = [];
  for (const f of asArray(json, 'bridge -json fdb')) {
    const mac = str(f.mac)?.toLowerCase();
    const dst = str(f.dst) && canonicalIp(str(f.dst)!);
    if (!mac || !MAC.test(mac) || mac === '00:00:00:00:00:00' || !dst || f.state !== 'permanent') continue;
    out.push({ dev: str(f.ifname) ?? dev, mac, dst });
  }
  return out;
}

/** `ip -json -d link show <dev>` and `ip -json addr show dev <dev>` → the VXLAN device, if it is one. */
export function parseVxlanDevice(linkJson: unknown, addrJson: unknown): VxlanDevice | undefined {
  const link = asArray(linkJson, 'ip -json link')[0];
  const info =
    (link?.linkinfo as { info_kind?: unknown; info_data?: Record<string, unknown> } | undefined) ?? {};
  if (!link || info.info_kind !== 'vxlan' || !info.info_data) return undefined;
  const data = info.info_data;
  // Its address: IPv4's, or on an IPv6 device the global one (not the kernel's link-local).
  const addrs =
    (asArray(addrJson, 'ip -json addr')[0]?.addr_info as Record<string, unknown>[] | undefined) ?? [];
  const addr =
    addrs.find((a) => a.family === 'inet') ?? addrs.find((a) => a.family === 'inet6' && a.scope === 'global');
  return {
    name: str(link.ifname) ?? '',
    vni: Number(data.id),
    port: Number(data.port),
    localIp: str(data.local) ?? str(data.local6) ?? '',
    mac: (str(link.address) ?? '').toLowerCase(),
    mtu: Number(link.mtu),
    address: addr ? `${str(addr.local)}/${Number(addr.prefixlen)}` : '',
    learning: data.learning === true,
    gbp: data.gbp === true,
  };
}
