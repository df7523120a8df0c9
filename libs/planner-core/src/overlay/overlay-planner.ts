import {
  cidrContains,
  DEFAULT_OVERLAY_CONFIG,
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

/** A remote node's entries, the same on every node that routes to it: shared, not copied. */
export interface PeerEntries {
  readonly node: OverlayNode;
  readonly route: RouteEntry;
  readonly neighbour: NeighbourEntry;
  readonly fdb: FdbEntry;
  readonly directRoute: RouteEntry;
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
  readonly peers: PeerTable;
  readonly chains: readonly ChainEntry[];
  readonly jumps: readonly JumpEntry[];
}

export const deviceName = (config: OverlayConfig) => `flannel.${config.vni}`;

/** True when `self` reaches `peer` directly on the underlay (DirectRouting). */
export function routesDirectly(plan: OverlayPlan, peer: OverlayNode): boolean {
  const subnet = plan.self?.underlaySubnet;
  return plan.config.directRouting && subnet !== undefined && cidrContains(subnet, peer.publicIp);
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
    const { chains, jumps } = flannelRules(
      config,
      `${self.subnet.address}/${self.subnet.prefix}`,
      this.facts.get(name)?.randomFully ?? true,
    );
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
    return { node: name, config, self, device, peers, chains, jumps };
  }

  private refresh(name: string): void {
    const node = this.nodes.get(name);
    const next = node ? overlayNodeOf(node, this.facts.get(name)) : undefined;
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
    const dev = deviceName(this.config);
    const subnet = `${node.subnet.address}/${node.subnet.prefix}`;
    return {
      node,
      route: { dst: subnet, via: node.subnet.address, dev, onlink: true },
      neighbour: { dev, ip: node.subnet.address, lladdr: node.vtepMac },
      fdb: { dev, mac: node.vtepMac, dst: node.publicIp },
      directRoute: { dst: subnet, via: node.publicIp, dev: null, onlink: false },
    };
  }

  private peerTable(): PeerTable {
    this.table ??= { order: [...this.peerEntries.keys()].sort(), entries: new Map(this.peerEntries) };
    return this.table;
  }
}

function sameOverlayNode(a: OverlayNode | undefined, b: OverlayNode | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
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
