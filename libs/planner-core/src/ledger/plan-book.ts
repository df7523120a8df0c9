import {
  DEFAULT_OVERLAY_CONFIG,
  EMPTY_NODE_STATE,
  NetledgerError,
  type Digest,
  type FragmentKind,
  type NodeManifest,
  type NodeState,
  type OverlayConfig,
  type PlanChange,
  type ProxierManifest,
} from '@netledger/model';
import type { FixedRules } from '../kube-proxy/fixed-rules';
import type { NodeProxyPlan, ServiceTable } from '../kube-proxy/node-plan';
import type { ServiceFragment } from '../kube-proxy/service-fragment';
import { nodeStateOf, type ModelChanges, type NodePlan } from '../network-planner';
import type { OverlayPlan, PeerEntries, PeerTable } from '../overlay/overlay-planner';
import type { FragmentValue } from './fragments';

/**
 * A fragment held: its value, or the JSON text it came as, parsed when first needed. A book that
 * only follows the plan (the planner's, after a restart) never parses the bodies it reads.
 */
interface HeldFragment {
  readonly kind: FragmentKind;
  value?: FragmentValue;
  readonly json?: string;
  refs: number;
}

/**
 * Keyed digests, changed in place, and the immutable view planOf hands out, built on first use
 * after a change (a plan taken before a change keeps its view). Sorted keys are kept apart, so a
 * change that only replaces entries does not sort again.
 */
class HeldEntries<V> {
  readonly digests = new Map<string, Digest>();
  private sorted: readonly string[] | undefined = [];
  private view: { order: readonly string[]; entries: ReadonlyMap<string, V> } | undefined;

  get(key: string): Digest | undefined {
    return this.digests.get(key);
  }

  set(key: string, digest: Digest): void {
    if (!this.digests.has(key)) this.sorted = undefined;
    this.digests.set(key, digest);
    this.view = undefined;
  }

  delete(key: string): void {
    if (this.digests.delete(key)) {
      this.sorted = undefined;
      this.view = undefined;
    }
  }

  order(): readonly string[] {
    this.sorted ??= [...this.digests.keys()].sort();
    return this.sorted;
  }

  resolved(value: (digest: Digest) => V): { order: readonly string[]; entries: ReadonlyMap<string, V> } {
    if (!this.view) {
      const entries = new Map<string, V>();
      for (const key of this.order()) entries.set(key, value(this.digests.get(key)!));
      this.view = { order: this.order(), entries };
    }
    return this.view;
  }
}

/** A proxier manifest's fragments' values. */
interface ResolvedProxier {
  readonly fixed: FixedRules;
  readonly overrides: ReadonlyMap<string, ServiceFragment>;
}

interface HeldManifest {
  readonly manifest: NodeManifest;
  /** Its fragments' values, taken on the first planOf. */
  resolved?: ResolvedProxier;
  resolved6?: ResolvedProxier;
}

/** Keyed digests a change replaces: a table, the peers, a node's overrides. */
interface DigestSlots {
  get(key: string): Digest | undefined;
  set(key: string, digest: Digest): void;
  delete(key: string): void;
}

/** Orders [key, value] pairs by key. */
export const byKey = ([a]: readonly [string, unknown], [b]: readonly [string, unknown]) =>
  a < b ? -1 : a > b ? 1 : 0;

/** A node's state from its plan; a node without one has the empty state. */
export const planState = (plan: NodePlan | undefined): NodeState =>
  plan ? nodeStateOf(plan) : EMPTY_NODE_STATE;

/** A fragment's body as a source gives it: a value, or JSON text (parsed when first needed). */
export type SourcedFragment = { readonly kind: FragmentKind } & (
  { readonly value: FragmentValue } | { readonly json: string }
);

/** Where a book gets the body of a fragment it does not hold yet. */
export type FragmentSource = (digest: Digest) => SourcedFragment | undefined;

const EMPTY_TABLE: ServiceTable = { order: [], fragments: new Map() };
/** One ServiceTable per view, so what is cached per table (rule positions) is reused. */
const serviceTables = new WeakMap<object, ServiceTable>();

/**
 * The plan resolved: fragments held once, the shared tables, and node manifests, at one plan
 * revision. `apply` moves it on by one change; `planOf` gives a node's NodePlan, whose state
 * (nodeStateOf) is what a from-scratch plan of that node gives. Every fragment is held once,
 * however many nodes take it, and dropped when nothing names it any more. Pure: no I/O.
 *
 * The planner keeps one to know what it has published; the API keeps one per point it
 * answers for; an executor keeps one limited to its own node (`only`), which holds the shared
 * tables and peers but no other node's manifest.
 */
export class PlanBook {
  private revisionNow: number;
  private overlay: OverlayConfig = DEFAULT_OVERLAY_CONFIG;
  private readonly fragments = new Map<Digest, HeldFragment>();
  private readonly tables = new Map<string, HeldEntries<ServiceFragment>>();
  private readonly peers = new HeldEntries<PeerEntries>();
  private readonly manifests = new Map<string, HeldManifest>();
  private readonly only: string | undefined;

  constructor(options: { revision?: number; only?: string } = {}) {
    this.revisionNow = options.revision ?? 0;
    this.only = options.only;
  }

  get revision(): number {
    return this.revisionNow;
  }

  get overlayConfig(): OverlayConfig {
    return this.overlay;
  }

  /** Nodes with a manifest, sorted. */
  nodeNames(): string[] {
    return [...this.manifests.keys()].sort();
  }

  hasNode(node: string): boolean {
    return this.manifests.has(node);
  }

  manifestOf(node: string): NodeManifest | undefined {
    return this.manifests.get(node)?.manifest;
  }

  /** True when the book holds the fragment (a change naming it need not carry its body). */
  holds(digest: Digest): boolean {
    return this.fragments.has(digest);
  }

  /** The digest a service table gives a port, if any. */
  tableDigest(key: string, port: string): Digest | undefined {
    return this.tables.get(key)?.digests.get(port);
  }

  /** The digest of a peer's overlay entries, if any. */
  peerDigest(peer: string): Digest | undefined {
    return this.peers.digests.get(peer);
  }

  /** The ports a service table holds, sorted. */
  tablePorts(key: string): readonly string[] {
    return this.tables.get(key)?.order() ?? [];
  }

  /** The peers held, sorted. */
  peerNames(): readonly string[] {
    return this.peers.order();
  }

  /** Service table keys held. */
  tableKeys(): IterableIterator<string> {
    return this.tables.keys();
  }

  hasTable(key: string): boolean {
    return this.tables.has(key);
  }

  /** A held fragment (a book is a FragmentSource for another: `(d) => book.fragment(d)`). */
  fragment(digest: Digest): { kind: FragmentKind; value: FragmentValue } | undefined {
    const held = this.fragments.get(digest);
    return held && { kind: held.kind, value: this.valueOf(digest) };
  }

  /** Number of fragments held, and the service table keys. */
  stats(): { fragments: number; tables: number; nodes: number; peers: number } {
    return {
      fragments: this.fragments.size,
      tables: this.tables.size,
      nodes: this.manifests.size,
      peers: this.peers.digests.size,
    };
  }

  /** The node's plan at this revision, composed from the held fragments (nothing copied). */
  planOf(node: string): NodePlan | undefined {
    const held = this.manifests.get(node);
    if (!held) return undefined;
    const { manifest } = held;
    const resolve = (m: ProxierManifest): ResolvedProxier => ({
      fixed: this.valueOf<FixedRules>(m.fixed),
      overrides: new Map(m.overrides.map(([port, d]) => [port, this.valueOf<ServiceFragment>(d)])),
    });
    held.resolved ??= resolve(manifest);
    if (manifest.ipv6) held.resolved6 ??= resolve(manifest.ipv6);
    const proxier = (m: ProxierManifest, r: ResolvedProxier): NodeProxyPlan => ({
      node,
      fixed: r.fixed,
      services: this.serviceTable(m.services),
      overrides: r.overrides,
    });
    const kubeProxy = proxier(manifest, held.resolved);
    const kubeProxy6 = manifest.ipv6 && proxier(manifest.ipv6, held.resolved6!);
    const own = manifest.overlay;
    const overlay: OverlayPlan = {
      node,
      config: this.overlay,
      self: own?.self,
      device: own?.device,
      device6: own?.device6,
      peers: this.peerTable(),
      chains: own?.chains ?? [],
      jumps: own?.jumps ?? [],
    };
    return { node, kubeProxy, kubeProxy6, overlay };
  }

  /** The node's desired state at this revision (empty without a manifest). */
  stateOf(node: string): NodeState {
    return planState(this.planOf(node));
  }

  /**
   * What `change` changes for `node`, as the model's changes would say it: the input of
   * diffNodePlans between the node's plan before and after the change. Read before applying it.
   */
  nodeChanges(change: PlanChange, node: string): ModelChanges {
    const before = this.manifestOf(node);
    const after = change.manifests.set.find((m) => m.node === node);
    const removed = change.manifests.delete.includes(node);
    const tableKeys = new Set([after?.services ?? before?.services, (after ?? before)?.ipv6?.services]);
    const ports = new Set<string>();
    for (const t of change.tables) {
      if (!tableKeys.has(t.key)) continue;
      for (const [port] of t.set) ports.add(port);
      for (const port of t.delete) ports.add(port);
    }
    for (const o of change.manifests.overrides) {
      if (o.node !== node) continue;
      for (const [port] of o.set) ports.add(port);
      for (const port of o.delete) ports.add(port);
    }
    const nodes = new Set<string>([...change.peers.set.map(([peer]) => peer), ...change.peers.delete]);
    if (after || removed) nodes.add(node);
    return {
      ports,
      nodes,
      all: change.overlayConfig !== undefined,
      conntrack: removed ? [] : change.conntrack,
    };
  }

  /**
   * Moves the book on by one change. The change must be the next revision, and every fragment it
   * names must be held already or come from `source`; otherwise it throws (PLAN.REVISION_GAP,
   * PLAN.MISSING_FRAGMENT) before anything changes, so a book is never half moved.
   */
  apply(change: PlanChange, source: FragmentSource = () => undefined): void {
    if (change.revision !== this.revisionNow + 1) {
      throw new NetledgerError(
        'PLAN.REVISION_GAP',
        `plan change ${change.revision} does not follow revision ${this.revisionNow}`,
        { details: { revision: change.revision, held: this.revisionNow } },
      );
    }
    const manifests = change.manifests.set.filter((m) => this.keeps(m.node));
    const overrides = change.manifests.overrides.filter((o) => this.keeps(o.node));
    const incoming = this.resolveAll(change, manifests, overrides, source);

    // References are taken before any is let go, so a fragment moving between places stays held.
    const release: Digest[] = [];
    const take = (digest: Digest) => {
      const held = this.fragments.get(digest);
      if (held) held.refs++;
      else this.fragments.set(digest, { ...incoming.get(digest)!, refs: 1 });
    };

    for (const t of change.tables) {
      let held = this.tables.get(t.key);
      if (!held) this.tables.set(t.key, (held = new HeldEntries()));
      this.replace(held, t.set, t.delete, take, release);
    }
    for (const key of change.dropTables) {
      const held = this.tables.get(key);
      if (!held) continue;
      release.push(...held.digests.values());
      this.tables.delete(key);
    }
    this.replace(this.peers, change.peers.set, change.peers.delete, take, release);

    for (const node of change.manifests.delete) {
      const held = this.manifests.get(node);
      if (!held) continue;
      release.push(...manifestDigests(held.manifest));
      this.manifests.delete(node);
    }
    for (const manifest of manifests) {
      for (const digest of manifestDigests(manifest)) take(digest);
      const old = this.manifests.get(manifest.node);
      if (old) release.push(...manifestDigests(old.manifest));
      this.manifests.set(manifest.node, { manifest });
    }
    for (const patch of overrides) {
      const { manifest } = this.manifests.get(patch.node)!;
      const v6 = patch.family === 'IPv6';
      const pairs = new Map(v6 ? manifest.ipv6!.overrides : manifest.overrides);
      this.replace(pairs, patch.set, patch.delete, take, release);
      const patched = [...pairs].sort(byKey);
      this.manifests.set(patch.node, {
        manifest: v6
          ? { ...manifest, ipv6: { ...manifest.ipv6!, overrides: patched } }
          : { ...manifest, overrides: patched },
      });
    }

    for (const digest of release) {
      const held = this.fragments.get(digest)!;
      if (--held.refs === 0) this.fragments.delete(digest);
    }
    if (change.overlayConfig) this.overlay = change.overlayConfig;
    this.revisionNow = change.revision;
  }

  /**
   * The change that takes an empty book (`new PlanBook({ revision: revision - 1 })`) to this one,
   * or, with `node`, to this one as an executor of that node keeps it: the shared tables and
   * peers and that node's manifest only. Checkpoints and resyncs are this.
   */
  snapshot(node?: string): PlanChange {
    const manifests =
      node === undefined
        ? [...this.manifests.values()].map((m) => m.manifest)
        : [this.manifests.get(node)?.manifest].filter((m) => m !== undefined);
    const tables = [...this.tables].map(([key, held]) => ({ key, set: [...held.digests], delete: [] }));
    const named = new Set<Digest>();
    for (const t of tables) for (const [, d] of t.set) named.add(d);
    for (const d of this.peers.digests.values()) named.add(d);
    for (const m of manifests) for (const d of manifestDigests(m)) named.add(d);
    return {
      revision: this.revisionNow,
      overlayConfig: this.overlay,
      tables,
      dropTables: [],
      peers: { set: [...this.peers.digests], delete: [] },
      manifests: { set: manifests, overrides: [], delete: [] },
      conntrack: [],
      fragments: [...named],
    };
  }

  /** Removes and sets keyed digests, taking new references and noting the ones let go. */
  private replace(
    held: DigestSlots,
    set: readonly (readonly [string, Digest])[],
    remove: readonly string[],
    take: (digest: Digest) => void,
    release: Digest[],
  ): void {
    for (const key of remove) {
      const old = held.get(key);
      if (old === undefined) continue;
      release.push(old);
      held.delete(key);
    }
    for (const [key, digest] of set) {
      const old = held.get(key);
      if (old === digest) continue;
      take(digest);
      if (old !== undefined) release.push(old);
      held.set(key, digest);
    }
  }

  private serviceTable(key: string): ServiceTable {
    const held = this.tables.get(key);
    if (!held) return EMPTY_TABLE;
    const view = held.resolved((d) => this.valueOf<ServiceFragment>(d));
    let table = serviceTables.get(view);
    if (!table) serviceTables.set(view, (table = { order: view.order, fragments: view.entries }));
    return table;
  }

  private peerTable(): PeerTable {
    return this.peers.resolved((d) => this.valueOf<PeerEntries>(d));
  }

  private checkKind(
    change: PlanChange,
    held: FragmentKind,
    kind: FragmentKind,
    digest: Digest,
    where: () => string,
  ): void {
    if (held === kind) return;
    throw new NetledgerError(
      'PLAN.WRONG_FRAGMENT_KIND',
      `plan change ${change.revision}: ${where()} names a ${held} fragment, not a ${kind} one`,
      { details: { revision: change.revision, digest, where: where() } },
    );
  }

  private valueOf<V extends FragmentValue>(digest: Digest): V {
    const held = this.fragments.get(digest)!;
    held.value ??= JSON.parse(held.json!) as FragmentValue;
    return held.value as V;
  }

  private keeps(node: string): boolean {
    return this.only === undefined || this.only === node;
  }

  /** Every fragment the change names, resolved and of the kind its place needs; throws otherwise. */
  private resolveAll(
    change: PlanChange,
    manifests: readonly NodeManifest[],
    overrides: PlanChange['manifests']['overrides'],
    source: FragmentSource,
  ): Map<Digest, SourcedFragment> {
    const incoming = new Map<Digest, SourcedFragment>();
    // `where` is only put into words for an error: a change names thousands of fragments.
    const need = (digest: Digest, kind: FragmentKind, where: () => string) => {
      const held = this.fragments.get(digest);
      if (held) return this.checkKind(change, held.kind, kind, digest, where);
      const given = incoming.get(digest) ?? source(digest);
      if (!given) {
        throw new NetledgerError(
          'PLAN.MISSING_FRAGMENT',
          `plan change ${change.revision} names fragment ${digest} (${where()}), which is not held nor given`,
          { details: { revision: change.revision, digest, where: where() } },
        );
      }
      this.checkKind(change, given.kind, kind, digest, where);
      incoming.set(digest, given);
    };
    const tables = new Set(this.tables.keys());
    for (const t of change.tables) {
      tables.add(t.key);
      for (const [port, d] of t.set) need(d, 'service', () => `table ${t.key} port ${port}`);
    }
    for (const key of change.dropTables) tables.delete(key);
    for (const [peer, d] of change.peers.set) need(d, 'peer', () => `peer ${peer}`);
    for (const m of manifests) {
      for (const [p, family] of [
        [m, ''],
        [m.ipv6, ' IPv6'],
      ] as const) {
        if (!p) continue;
        if (!tables.has(p.services)) {
          throw new NetledgerError(
            'PLAN.MISSING_TABLE',
            `plan change ${change.revision}: node ${m.node} takes${family} service table ${JSON.stringify(p.services)}, which does not exist`,
          );
        }
        need(p.fixed, 'fixed', () => `node ${m.node}${family} fixed rules`);
        for (const [port, d] of p.overrides) need(d, 'service', () => `node ${m.node}${family} port ${port}`);
      }
    }
    const added = new Map(manifests.map((m) => [m.node, m]));
    const deleted = new Set(change.manifests.delete);
    for (const o of overrides) {
      const manifest = added.get(o.node) ?? (deleted.has(o.node) ? undefined : this.manifestOf(o.node));
      if (!manifest || (o.family === 'IPv6' && !manifest.ipv6)) {
        throw new NetledgerError(
          'PLAN.NO_SUCH_NODE',
          `plan change ${change.revision} patches the${o.family === 'IPv6' ? ' IPv6' : ''} overrides of ${o.node}, which has no manifest for them`,
        );
      }
      for (const [port, d] of o.set) need(d, 'service', () => `node ${o.node} port ${port}`);
    }
    return incoming;
  }
}

function manifestDigests(manifest: NodeManifest): Digest[] {
  const of = (p: ProxierManifest) => [p.fixed, ...p.overrides.map(([, d]) => d)];
  return manifest.ipv6 ? [...of(manifest), ...of(manifest.ipv6)] : of(manifest);
}
