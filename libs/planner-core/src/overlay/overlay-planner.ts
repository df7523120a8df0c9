import {
  cidrContains,
  DEFAULT_OVERLAY_CONFIG,
  formatCidr,
  type Cidr,
  type ChainEntry,
  type FdbEntry,
  type HostFacts,
  type JumpEntry,
  type NeighbourEntry,
  type Node,
  type OverlayConfig,
  type RouteEntry,
  type VxlanDevice,
} from '@netledger/model';
import { flannelRules } from './flannel-rules';
import { overlayNodeOf, type OverlayNode } from './overlay-node';

/*
 * flannel's vxlan backend, as desired state. Its invariant (pkg/backend/vxlan design notes): for
 * every remote node, one route to its subnet via its VTEP address (onlink on the device), one
 * permanent neighbour entry (VTEP address -> VTEP MAC) and one permanent FDB entry (VTEP MAC ->
 * the node's public IP). With DirectRouting, a node on the same underlay subnet gets a plain
 * route via its public IP instead, and no neighbour or FDB entry.
 */

/** A remote node's entries of one family: overlay route, neighbour, FDB entry, or a direct route. */
export interface FamilyPeerEntries {
  readonly route: RouteEntry;
  readonly neighbour: NeighbourEntry;
  readonly fdb: FdbEntry;
  readonly directRoute: RouteEntry;
}

/**
 * A remote node's entries, the same on every node that routes to it: shared, not copied. On a
 * dual-stack overlay, its IPv6 lease's entries on the flannel-v6 device too.
 */
export interface PeerEntries extends FamilyPeerEntries {
  readonly node: OverlayNode;
  readonly ipv6?: FamilyPeerEntries;
}

/** Every node's peer entries, immutable; rebuilt (sharing unchanged entries) when a node changes. */
export interface PeerTable {
  readonly order: readonly string[];
  readonly entries: ReadonlyMap<string, PeerEntries>;
}

/** The overlay one node must have. */
export interface OverlayPlan {
  readonly node: string;
  readonly config: OverlayConfig;
  readonly self: OverlayNode | undefined;
  readonly device: VxlanDevice | undefined;
  /** The flannel-v6 device, on a dual-stack overlay for a node with an IPv6 lease. */
  readonly device6?: VxlanDevice | undefined;
  readonly peers: PeerTable;
  readonly chains: readonly ChainEntry[];
  readonly jumps: readonly JumpEntry[];
}

export const deviceName = (config: OverlayConfig) => `flannel.${config.vni}`;
export const deviceName6 = (config: OverlayConfig) => `flannel-v6.${config.vni}`;

/** True when `self` reaches `peer` directly on the underlay (DirectRouting). */
export function routesDirectly(plan: OverlayPlan, peer: OverlayNode): boolean {
  const subnet = plan.self?.underlaySubnet;
  return plan.config.directRouting && subnet !== undefined && cidrContains(subnet, peer.publicIp);
}

/** The same for the IPv6 overlay: both hold IPv6 leases and share the IPv6 underlay subnet. */
export function routesDirectly6(plan: OverlayPlan, peer: OverlayNode): boolean {
  const subnet = plan.self?.ipv6?.underlaySubnet;
  return (
    plan.config.directRouting &&
    subnet !== undefined &&
    peer.ipv6 !== undefined &&
    cidrContains(subnet, peer.ipv6.publicIp)
  );
}

export class OverlayPlanner {
  private config: OverlayConfig;
  private readonly nodes = new Map<string, Node>();
  private readonly facts = new Map<string, HostFacts>();
  private readonly overlayNodes = new Map<string, OverlayNode>();
  private readonly peerEntries = new Map<string, PeerEntries>();
  private table: PeerTable | undefined;
  private changedPeers = new Set<string>();
  private changedAll = false;

  constructor(config: OverlayConfig = DEFAULT_OVERLAY_CONFIG) {
    this.config = config;
  }

  setConfig(config: OverlayConfig): void {
    this.config = config;
    // Leases depend on the configuration (an IPv6 network gives IPv6 leases).
    for (const name of this.nodes.keys()) this.refresh(name);
    this.peerEntries.clear();
    for (const name of this.overlayNodes.keys())
      this.peerEntries.set(name, this.entriesFor(this.overlayNodes.get(name)!));
    this.table = undefined;
    this.changedAll = true;
  }

  upsertNode(node: Node): void {
    this.nodes.set(node.name, node);
    this.refresh(node.name);
  }

  removeNode(name: string): void {
    if (this.nodes.delete(name)) this.refresh(name);
  }

  setHostFacts(name: string, facts: HostFacts | undefined): void {
    if (facts) this.facts.set(name, facts);
    else this.facts.delete(name);
    this.refresh(name);
  }

  /** Returns and forgets the nodes whose overlay entries changed, and whether everything did. */
  takeChanges(): { peers: ReadonlySet<string>; all: boolean } {
    const changes = { peers: this.changedPeers, all: this.changedAll };
    this.changedPeers = new Set();
    this.changedAll = false;
    return changes;
  }

  planNode(name: string): OverlayPlan {
    const self = this.overlayNodes.get(name);
    const config = this.config;
    const peers = this.peerTable();
    if (!self) return { node: name, config, self, device: undefined, peers, chains: [], jumps: [] };
    const randomFully = this.facts.get(name)?.randomFully ?? true;
    const { chains, jumps } = flannelRules(config, formatCidr(self.subnet), randomFully);
    const device: VxlanDevice = {
      name: deviceName(config),
      vni: config.vni,
      port: config.port,
      localIp: self.deviceIp ?? self.publicIp,
      mac: self.vtepMac,
      // flannel subtracts the VXLAN overhead from the configured or underlay MTU.
      mtu: (config.mtu ?? self.underlayMtu) - 50,
      // The subnet's network address as /32, so that no broadcast routes are created.
      address: `${self.subnet.address}/32`,
      learning: false,
      gbp: config.gbp,
    };
    const lease6 = config.ipv6Network !== undefined ? self.ipv6 : undefined;
    if (!lease6) return { node: name, config, self, device, peers, chains, jumps };
    const v6 = flannelRules(config, formatCidr(lease6.subnet), randomFully, 'IPv6');
    const device6: VxlanDevice = {
      ...device,
      name: deviceName6(config),
      localIp: lease6.deviceIp ?? lease6.publicIp,
      mac: lease6.vtepMac,
      // The kernel's headroom for VXLAN over IPv6 (VXLAN6_HEADROOM): 20 bytes more than over IPv4.
      mtu: (config.mtu ?? self.underlayMtu) - 70,
      address: `${lease6.subnet.address}/128`,
    };
    return {
      node: name,
      config,
      self,
      device,
      device6,
      peers,
      chains: [...chains, ...v6.chains],
      jumps: [...jumps, ...v6.jumps],
    };
  }

  private refresh(name: string): void {
    const node = this.nodes.get(name);
    const next = node
      ? overlayNodeOf(node, this.facts.get(name), this.config.ipv6Network !== undefined)
      : undefined;
    const previous = this.overlayNodes.get(name);
    if (next) this.overlayNodes.set(name, next);
    else this.overlayNodes.delete(name);
    if (sameOverlayNode(previous, next)) return;
    if (next) this.peerEntries.set(name, this.entriesFor(next));
    else this.peerEntries.delete(name);
    this.table = undefined;
    this.changedPeers.add(name);
  }

  private entriesFor(node: OverlayNode): PeerEntries {
    const v4 = familyEntries(deviceName(this.config), node);
    const lease6 = this.config.ipv6Network !== undefined ? node.ipv6 : undefined;
    return lease6 ? { node, ...v4, ipv6: familyEntries(deviceName6(this.config), lease6) } : { node, ...v4 };
  }

  private peerTable(): PeerTable {
    this.table ??= { order: [...this.peerEntries.keys()].sort(), entries: new Map(this.peerEntries) };
    return this.table;
  }
}

/** flannel's entries for a lease on device `dev` (vxlan_network.go handleSubnetEvents). */
function familyEntries(
  dev: string,
  lease: { subnet: Cidr; publicIp: string; vtepMac: string },
): FamilyPeerEntries {
  const subnet = formatCidr(lease.subnet);
  return {
    route: { dst: subnet, via: lease.subnet.address, dev, onlink: true },
    neighbour: { dev, ip: lease.subnet.address, lladdr: lease.vtepMac },
    fdb: { dev, mac: lease.vtepMac, dst: lease.publicIp },
    directRoute: { dst: subnet, via: lease.publicIp, dev: null, onlink: false },
  };
}

function sameOverlayNode(a: OverlayNode | undefined, b: OverlayNode | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (JSON.stringify(a.ipv6) !== JSON.stringify(b.ipv6)) return false;
  return (
    a.subnet.address === b.subnet.address &&
    a.subnet.prefix === b.subnet.prefix &&
    a.publicIp === b.publicIp &&
    a.deviceIp === b.deviceIp &&
    a.vtepMac === b.vtepMac &&
    a.underlayMtu === b.underlayMtu &&
    a.underlaySubnet?.address === b.underlaySubnet?.address &&
    a.underlaySubnet?.prefix === b.underlaySubnet?.prefix
  );
}
