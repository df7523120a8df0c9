import {
  familyField,
  type Digest,
  type IpFamily,
  type NodeManifest,
  type OverlayConfig,
  type OverlayOwn,
  type PlanChange,
  type ProxierManifest,
} from '@netledger/model';
import type { FixedRules } from '../kube-proxy/fixed-rules';
import type { NodeProxyPlan, ServiceTable } from '../kube-proxy/node-plan';
import type { ServiceFragment } from '../kube-proxy/service-fragment';
import type { ModelChanges, NetworkPlanner, NodePlan } from '../network-planner';
import type { PeerTable } from '../overlay/overlay-planner';
import { FragmentEncoder, type EncodedFragment, type FragmentValues } from './fragments';
import { byKey, PlanBook } from './plan-book';

/** A plan change and the bodies of the fragments it is the first to name. */
export interface RecordedChange {
  readonly change: PlanChange;
  readonly fragments: readonly EncodedFragment[];
}

/** Gives a fragment's digest, noting its body to carry with the change when it must. */
type Namer = <K extends keyof FragmentValues>(kind: K, value: FragmentValues[K]) => Digest;

/** What the recorder saw of one proxier on a node at the last change. */
interface SeenProxier {
  readonly fixed: FixedRules;
  readonly services: string;
  readonly overrides: ReadonlyMap<string, ServiceFragment>;
}

/** What the recorder saw of a node at the last change, to tell cheaply what moved since. */
interface SeenNode extends SeenProxier {
  readonly ipv6: SeenProxier | undefined;
}

/** IPv6 service tables are keyed apart from IPv4 ones (profiles of both families share key forms). */
export const IPV6_TABLE_PREFIX = 'ipv6/';

const seenProxier = (k: NodeProxyPlan, prefix = ''): SeenProxier => ({
  fixed: k.fixed,
  services: prefix + k.profile!.serviceKey,
  overrides: k.overrides,
});

/**
 * Turns the model's state after a batch into the next plan change: which fragments, table
 * entries, peers and manifests differ from what its book holds (the last change recorded).
 * Work grows with what changed: objects the model shares are compared by identity first, and a
 * fragment is digested once per object. Over a restored book, either `assumeRecorded` takes the
 * model as recorded, or the first change compares everything by digest and names only what
 * really differs.
 * Pure: no I/O.
 */
export class PlanRecorder {
  readonly book: PlanBook;
  private readonly encoder = new FragmentEncoder();
  private readonly seenNodes = new Map<string, SeenNode>();
  private readonly seenTables = new Map<string, ServiceTable>();
  private seenPeers: PeerTable | undefined;
  private seenOverlay: OverlayConfig | undefined;

  constructor(book: PlanBook = new PlanBook()) {
    this.book = book;
  }

  /** The next change, applied to the book; undefined when the plan did not change. */
  record(model: NetworkPlanner, changes: ModelChanges): RecordedChange | undefined {
    const carried = new Map<Digest, EncodedFragment>();
    const namer =
      (always: boolean): Namer =>
      (kind, value) => {
        const f = this.encoder.encode(kind, value);
        if (always || !this.book.holds(f.digest)) carried.set(f.digest, f);
        return f.digest;
      };
    const shared = namer(false);
    // NOTE: what a manifest names is always carried: a consumer that keeps one node's manifest
    // holds the shared tables and peers, but not the fragments other nodes' manifests hold.
    const own = namer(true);

    const present = model.nodeNames();
    const set: NodeManifest[] = [];
    const overrides: PlanChange['manifests']['overrides'][number][] = [];
    const tables = new Map<string, ServiceTable>();
    const presentSet = new Set(present);
    for (const node of present) {
      // The overlay half of a plan is built only for nodes that may have changed as a whole.
      const k = model.kubeProxy.planNode(node);
      const k6 = model.planNode6(node);
      const seen: SeenNode = { ...seenProxier(k), ipv6: k6 && seenProxier(k6, IPV6_TABLE_PREFIX) };
      tables.set(seen.services, k.services);
      if (k6) tables.set(seen.ipv6!.services, k6.services);
      const before = this.seenNodes.get(node);
      this.seenNodes.set(node, seen);
      const whole =
        !before ||
        changes.all ||
        changes.nodes.has(node) ||
        !sameProfile(before, seen) ||
        (before.ipv6 === undefined) !== (seen.ipv6 === undefined) ||
        (before.ipv6 !== undefined && !sameProfile(before.ipv6, seen.ipv6!));
      if (whole) {
        const plan: NodePlan = { node, kubeProxy: k, kubeProxy6: k6, overlay: model.overlay.planNode(node) };
        const manifest = this.manifestOf(plan, seen, shared);
        const held = this.book.manifestOf(node);
        if (!held || JSON.stringify(held) !== JSON.stringify(manifest)) {
          set.push(manifest);
          for (const proxier of [k, k6]) {
            if (!proxier) continue;
            own('fixed', proxier.fixed);
            for (const fragment of proxier.overrides.values()) own('service', fragment);
          }
        }
      } else {
        if (before.overrides !== k.overrides) {
          const patch = this.overridesPatch(node, 'IPv4', k.overrides, shared, own);
          if (patch.set.length > 0 || patch.delete.length > 0) overrides.push(patch);
        }
        if (k6 && before.ipv6!.overrides !== k6.overrides) {
          const patch = this.overridesPatch(node, 'IPv6', k6.overrides, shared, own);
          if (patch.set.length > 0 || patch.delete.length > 0) overrides.push(patch);
        }
      }
    }
    // A node leaves the model as a changed node; a recorder that has seen nothing yet (a restore
    // with verify) or a change of everything looks at every node the book holds.
    const candidates = changes.all || this.seenNodes.size === 0 ? this.book.nodeNames() : changes.nodes;
    const removed = [...candidates].filter((node) => !presentSet.has(node) && this.book.hasNode(node)).sort();
    for (const node of removed) this.seenNodes.delete(node);

    const tableChanges: PlanChange['tables'][number][] = [];
    for (const [key, table] of tables) {
      const known = this.book.hasTable(key);
      if (this.seenTables.get(key) === table && known) continue;
      const change = this.tableChange(key, table, shared, changes);
      if (change.set.length > 0 || change.delete.length > 0 || !known) tableChanges.push(change);
    }
    const dropTables = [...this.book.tableKeys()].filter((key) => !tables.has(key));

    const { peers: peerTable, config: overlayConfig } = model.overlay.planNode('');
    const peers =
      peerTable === this.seenPeers ? { set: [], delete: [] } : this.peersChange(peerTable, shared);
    const configChanged =
      this.book.revision === 0 ||
      (overlayConfig !== this.seenOverlay &&
        JSON.stringify(overlayConfig) !== JSON.stringify(this.book.overlayConfig));

    const change: PlanChange = {
      revision: this.book.revision + 1,
      ...(configChanged ? { overlayConfig } : {}),
      tables: tableChanges,
      dropTables,
      peers,
      manifests: { set, overrides, delete: removed },
      conntrack: changes.conntrack,
      fragments: [...carried.keys()],
    };
    this.seenTables.clear();
    for (const [key, table] of tables) this.seenTables.set(key, table);
    this.seenPeers = peerTable;
    this.seenOverlay = overlayConfig;
    // The configuration alone makes no first revision: it goes with the first change of substance.
    if (
      isEmptyChange(change) ||
      (this.book.revision === 0 && isEmptyChange({ ...change, overlayConfig: undefined }))
    )
      return undefined;
    this.book.apply(change, (digest) => carried.get(digest));
    return { change, fragments: [...carried.values()] };
  }

  /**
   * Takes the model as it is to be what the book holds, without comparing them: after a restart,
   * the model folded to the stream versions stored with the book's last change is the model that
   * change was recorded from. Changes made to the model after this call are recorded as usual;
   * one that changes everything (a new configuration) is compared whole.
   */
  assumeRecorded(model: NetworkPlanner): void {
    this.seenNodes.clear();
    this.seenTables.clear();
    for (const node of model.nodeNames()) {
      const k = model.kubeProxy.planNode(node);
      const k6 = model.planNode6(node);
      const seen: SeenNode = { ...seenProxier(k), ipv6: k6 && seenProxier(k6, IPV6_TABLE_PREFIX) };
      this.seenNodes.set(node, seen);
      this.seenTables.set(seen.services, k.services);
      if (k6) this.seenTables.set(seen.ipv6!.services, k6.services);
    }
    const overlay = model.overlay.planNode('');
    this.seenPeers = overlay.peers;
    this.seenOverlay = overlay.config;
  }

  private manifestOf(plan: NodePlan, seen: SeenNode, name: Namer): NodeManifest {
    const o = plan.overlay;
    const overlay: OverlayOwn =
      o.self && o.device
        ? {
            self: o.self,
            device: o.device,
            ...(o.device6 ? { device6: o.device6 } : {}),
            chains: [...o.chains],
            jumps: [...o.jumps],
          }
        : null;
    const proxier = (k: NodeProxyPlan, services: string): ProxierManifest => ({
      services,
      fixed: name('fixed', k.fixed),
      overrides: [...k.overrides]
        .map(([port, fragment]): [string, Digest] => [port, name('service', fragment)])
        .sort(byKey),
    });
    return {
      node: plan.node,
      ...proxier(plan.kubeProxy, seen.services),
      overlay,
      ...(plan.kubeProxy6 ? { ipv6: proxier(plan.kubeProxy6, seen.ipv6!.services) } : {}),
    };
  }

  private overridesPatch(
    node: string,
    family: IpFamily,
    now: ReadonlyMap<string, ServiceFragment>,
    shared: Namer,
    own: Namer,
  ): PlanChange['manifests']['overrides'][number] {
    const manifest = this.book.manifestOf(node)!;
    const held = new Map(family === 'IPv6' ? manifest.ipv6!.overrides : manifest.overrides);
    const set: [string, Digest][] = [];
    for (const [port, fragment] of now) {
      const digest = shared('service', fragment);
      if (held.get(port) !== digest) set.push([port, own('service', fragment)]);
    }
    const gone = [...held.keys()].filter((port) => !now.has(port));
    return { node, ...familyField(family), set: set.sort(byKey), delete: gone.sort() };
  }

  /**
   * What changed in one service table. A table recorded before changes only at the ports the model
   * says changed (every port when everything may have); a new one is compared whole with the book.
   */
  private tableChange(
    key: string,
    table: ServiceTable,
    name: Namer,
    changes: ModelChanges,
  ): PlanChange['tables'][number] {
    const before = this.seenTables.get(key);
    const ports = before && !changes.all ? [...changes.ports].sort() : table.order;
    const set: [string, Digest][] = [];
    const gone: string[] = [];
    for (const port of ports) {
      const fragment = table.fragments.get(port);
      if (!fragment) {
        if (this.book.tableDigest(key, port) !== undefined) gone.push(port);
        continue;
      }
      if (fragment === before?.fragments.get(port)) continue;
      const digest = name('service', fragment);
      if (this.book.tableDigest(key, port) !== digest) set.push([port, digest]);
    }
    if (!before || changes.all)
      for (const port of this.book.tablePorts(key)) if (!table.fragments.has(port)) gone.push(port);
    return { key, set, delete: [...new Set(gone)].sort() };
  }

  private peersChange(table: PeerTable, name: Namer): PlanChange['peers'] {
    const before = this.seenPeers;
    const set: [string, Digest][] = [];
    for (const peer of table.order) {
      const entries = table.entries.get(peer)!;
      if (entries === before?.entries.get(peer)) continue;
      const digest = name('peer', entries);
      if (this.book.peerDigest(peer) !== digest) set.push([peer, digest]);
    }
    return { set, delete: this.book.peerNames().filter((peer) => !table.entries.has(peer)) };
  }
}

/** The same fixed rules and service table (the node's profile did not move). */
const sameProfile = (a: SeenProxier, b: SeenProxier) => a.fixed === b.fixed && a.services === b.services;

/** True when a change changes nothing (no revision is made for it). */
export function isEmptyChange(change: PlanChange): boolean {
  return (
    change.overlayConfig === undefined &&
    change.tables.length === 0 &&
    change.dropTables.length === 0 &&
    change.peers.set.length === 0 &&
    change.peers.delete.length === 0 &&
    change.manifests.set.length === 0 &&
    change.manifests.overrides.length === 0 &&
    change.manifests.delete.length === 0 &&
    change.conntrack.length === 0
  );
}
