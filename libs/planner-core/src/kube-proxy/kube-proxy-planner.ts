import { LayeredMap } from './layered-map';
import {
  DEFAULT_PROXY_CONFIG,
  cidrContains,
  type Cidr,
  type IpFamily,
  defaultHostFacts,
  ipv4ToNumber,
  type EndpointSlice,
  type HostFacts,
  type KubeObject,
  type Node,
  type ConntrackDeletion,
  type ProxyConfig,
  type Service,
} from '@netledger/model';
import type { Chain } from '../iptables/types';
import {
  categorizeEndpoints,
  clusterEndpointsOf,
  localEndpointsOf,
  topologyHintsOf,
  topologyModeAt,
  type TopologyHints,
} from './categorize';
import { LARGE_CLUSTER_ENDPOINTS_THRESHOLD } from './constants';
import { endpointPortKey, endpointsOfService, type EndpointInfo } from './endpoints';
import { fixedRules, type FixedRules } from './fixed-rules';
import type { NodeProxyPlan, ServiceTable } from './node-plan';
import { nodeProfile, type NodeProfile } from './node-profile';
import { endpointChain, serviceFragment, type ServiceFragment } from './service-fragment';
import {
  servicePortsOf,
  usesClusterEndpoints,
  usesLocalEndpoints,
  type ServicePortInfo,
} from './service-port';

/*
 * How a change flows (compare Felix's calc graph):
 *
 *   Service ─┐                         ┌─> PortState (per service port: endpoints, cluster endpoints,
 *            ├─> per-service rebuild ──┤     SEP chains, fragment cache per variant)
 *   Slice  ──┘                         └─> localPortsByNode index, profile port set, endpoint count
 *
 *   Node / HostFacts / ProxyConfig ──> NodeProfile ──> FixedRules (cached per fixedKey)
 *
 *   planNode(n) = profile(n) + ServiceTable(profile.serviceKey) + overrides(n)
 *
 * A ServiceTable is rebuilt lazily, sharing every fragment that did not change; overrides are the
 * few ports whose fragment on n differs from the table's (local endpoints on n, n inside a
 * loadBalancerSourceRange, or node hints that name n); zone hints are the table's own, nodes of a
 * zone sharing one table.
 */

interface PortState {
  readonly sp: ServicePortInfo;
  readonly endpoints: readonly EndpointInfo[];
  readonly cluster: readonly EndpointInfo[];
  /** Nodes holding endpoints of this port, when the port uses local endpoints. */
  readonly localNodes: ReadonlySet<string>;
  /** Source ranges as [network, mask] numbers (IPv4) or CIDRs, when the port has a firewall chain. */
  readonly firewall: readonly (readonly [number, number] | Cidr)[] | undefined;
  /** The nodes and zones its endpoints' topology hints single out, when they can. */
  readonly hints: TopologyHints | undefined;
  readonly sepChains: Map<string, Chain>;
  readonly fragments: Map<string, ServiceFragment>;
}

/** What changed since the last takeChanges(): service ports, and nodes whose profile changed. */
export interface PlannerChanges {
  readonly ports: ReadonlySet<string>;
  readonly nodes: ReadonlySet<string>;
  /** Every node's state may have changed (proxy config, large-cluster mode). */
  readonly all: boolean;
  /** UDP flows every node must forget (see ConntrackDeletion). */
  readonly conntrack: readonly ConntrackDeletion[];
}

const NO_NODES: ReadonlySet<string> = new Set();

/**
 * The kube-proxy half of the planner: holds the cluster's Services, EndpointSlices and Nodes and
 * computes, for any node, the iptables state kube-proxy would program there. Pure: no I/O.
 */
export class KubeProxyPlanner {
  private config: ProxyConfig;
  private readonly services = new Map<string, Service>();
  private readonly slices = new Map<string, EndpointSlice>();
  private readonly slicesByService = new Map<string, Set<string>>();
  private readonly nodes = new Map<string, Node>();
  private sortedNodes: readonly string[] | undefined;
  private readonly hostFacts = new Map<string, HostFacts>();

  private readonly ports = new Map<string, PortState>();
  private readonly portsByService = new Map<string, readonly string[]>();
  private readonly localPortsByNode = new Map<string, Set<string>>();
  /** Ports whose endpoints' node hints name the node (its fragment may be a same-node one). */
  private readonly hintedPortsByNode = new Map<string, Set<string>>();
  /** Ports whose fragment depends on a node's IP (loadBalancerSourceRanges). */
  private readonly profilePorts = new Set<string>();
  private totalEndpoints = 0;
  private largeClusterMode = false;
  private order: string[] | undefined;

  private readonly profiles = new Map<string, NodeProfile>();
  private readonly fixed = new Map<string, FixedRules>();
  private readonly tables = new Map<
    string,
    { table: ServiceTable & { fragments: LayeredMap<string, ServiceFragment> }; dirty: Set<string> }
  >();

  /**
   * Per planned node, the ports changed since its plan was made that may change its overrides:
   * ports with its local endpoints (before or after), and ports it holds an override of. A batch
   * then costs each node what concerns it, not a pass over every changed port.
   */
  private readonly dirtyPorts = new Map<string, Set<string>>();
  /** Nodes holding an override of each port. */
  private readonly overridden = new Map<string, Set<string>>();
  /**
   * profilePorts that changed, in order: which nodes they concern depends on each node's IP, so
   * every node reads them; a plan remembers how far it has.
   */
  private profileLog: string[] = [];
  private profileLogBase = 0;
  private readonly nodePlans = new Map<string, { plan: NodeProxyPlan; profileSeen: number }>();

  private changedPorts = new Set<string>();
  private conntrack: ConntrackDeletion[] = [];
  private changedNodes = new Set<string>();
  private changedAll = false;

  /** `family`: the IP family of the proxier this plans for (kube-proxy runs one per family). */
  constructor(
    config: ProxyConfig = DEFAULT_PROXY_CONFIG,
    readonly family: IpFamily = 'IPv4',
  ) {
    this.config = config;
  }

  /** Adds or replaces a validated object. */
  upsert(object: KubeObject): void {
    switch (object.kind) {
      case 'Service': {
        const key = `${object.namespace}/${object.name}`;
        this.services.set(key, object);
        this.rebuildService(key);
        return;
      }
      case 'EndpointSlice': {
        const key = `${object.namespace}/${object.name}`;
        const previous = this.slices.get(key);
        this.slices.set(key, object);
        if (previous?.serviceName && previous.serviceName !== object.serviceName) {
          this.unlinkSlice(`${previous.namespace}/${previous.serviceName}`, key);
        }
        if (object.serviceName) {
          const serviceKey = `${object.namespace}/${object.serviceName}`;
          let set = this.slicesByService.get(serviceKey);
          if (!set) this.slicesByService.set(serviceKey, (set = new Set()));
          set.add(key);
          this.rebuildService(serviceKey);
        }
        return;
      }
      case 'Node':
        if (!this.nodes.has(object.name)) this.sortedNodes = undefined;
        this.nodes.set(object.name, object);
        this.nodeChanged(object.name);
        return;
    }
  }

  /** Removes an object; removing one that is not there changes nothing. */
  remove(kind: KubeObject['kind'], namespace: string, name: string): void {
    switch (kind) {
      case 'Service': {
        const key = `${namespace}/${name}`;
        if (this.services.delete(key)) this.rebuildService(key);
        return;
      }
      case 'EndpointSlice': {
        const key = `${namespace}/${name}`;
        const previous = this.slices.get(key);
        if (!previous) return;
        this.slices.delete(key);
        if (previous.serviceName) this.unlinkSlice(`${namespace}/${previous.serviceName}`, key);
        return;
      }
      case 'Node':
        if (this.nodes.delete(name)) {
          this.sortedNodes = undefined;
          this.nodeChanged(name);
        }
        return;
    }
  }

  /** Records what a node's host reported; undefined returns to the defaults. */
  setHostFacts(node: string, facts: HostFacts | undefined): void {
    if (facts) this.hostFacts.set(node, facts);
    else this.hostFacts.delete(node);
    this.nodeChanged(node);
  }

  setProxyConfig(config: ProxyConfig): void {
    const releaseChanged = config.release !== this.config.release;
    this.config = config;
    this.profiles.clear();
    this.forgetPlans();
    this.changedAll = true;
    // The release decides which copy of a duplicated endpoint counts.
    if (releaseChanged) for (const key of [...this.services.keys()]) this.rebuildService(key);
  }

  /** Names of the Nodes known, sorted (kept between calls: every batch asks, few change them). */
  nodeNames(): readonly string[] {
    this.sortedNodes ??= [...this.nodes.keys()].sort();
    return this.sortedNodes;
  }

  getNode(name: string): Node | undefined {
    return this.nodes.get(name);
  }

  /** Number of service ports programmed, and endpoints across them. */
  stats(): { servicePorts: number; endpoints: number; largeClusterMode: boolean } {
    return {
      servicePorts: this.ports.size,
      endpoints: this.totalEndpoints,
      largeClusterMode: this.largeClusterMode,
    };
  }

  /** Returns and forgets what changed since the last call. */
  takeChanges(): PlannerChanges {
    const changes = {
      ports: this.changedPorts,
      nodes: this.changedNodes,
      all: this.changedAll,
      conntrack: this.conntrack,
    };
    this.conntrack = [];
    this.changedPorts = new Set();
    this.changedNodes = new Set();
    this.changedAll = false;
    return changes;
  }

  /** The iptables state kube-proxy would program on `nodeName` (a Node object need not exist). */
  planNode(nodeName: string): NodeProxyPlan {
    const profile = this.profileOf(nodeName);
    let fixed = this.fixed.get(profile.fixedKey);
    if (!fixed) this.fixed.set(profile.fixedKey, (fixed = fixedRules(profile)));
    const services = this.tableFor(profile);
    const profileNow = this.profileLogBase + this.profileLog.length;
    const cached = this.nodePlans.get(nodeName);

    let overrides: Map<string, ServiceFragment>;
    if (cached && cached.plan.profile === profile && cached.profileSeen >= this.profileLogBase) {
      const dirty = this.dirtyPorts.get(nodeName);
      if (!dirty && cached.profileSeen === profileNow) {
        if (cached.plan.services !== services) {
          cached.plan = { ...cached.plan, services };
        }
        return cached.plan;
      }
      // Only these ports can change its overrides; the override map is shared with the previous
      // plan unless one of them concerns this node. A port met twice is looked at twice (the
      // same result): every node sees the profile ports changed since its last plan, and a Set
      // of them per node per batch cost more than the look.
      overrides = cached.plan.overrides as Map<string, ServiceFragment>;
      let copied = false;
      const look = (portName: string) => {
        const state = this.ports.get(portName);
        const concerns =
          state !== undefined && (state.localNodes.has(nodeName) || this.concerns(state, profile, nodeName));
        if (!concerns && !overrides.has(portName)) return;
        if (!copied) {
          overrides = new Map(overrides);
          copied = true;
        }
        overrides.delete(portName);
        if (concerns) this.override(overrides, services, state, profile, nodeName);
      };
      if (dirty) for (const portName of dirty) look(portName);
      for (let i = cached.profileSeen - this.profileLogBase; i < this.profileLog.length; i++)
        look(this.profileLog[i]!);
    } else {
      overrides = new Map();
      for (const portName of this.localPortsByNode.get(nodeName) ?? NO_NODES) {
        this.override(overrides, services, this.ports.get(portName)!, profile, nodeName);
      }
      for (const portName of this.hintedPortsByNode.get(nodeName) ?? NO_NODES) {
        if (!overrides.has(portName))
          this.override(overrides, services, this.ports.get(portName)!, profile, nodeName);
      }
      for (const portName of this.profilePorts) {
        const state = this.ports.get(portName)!;
        if (!overrides.has(portName) && this.concerns(state, profile, nodeName))
          this.override(overrides, services, state, profile, nodeName);
      }
    }
    this.dirtyPorts.delete(nodeName);
    this.trackOverrides(nodeName, cached?.plan.overrides, overrides);
    const plan = { node: nodeName, profile, fixed, services, overrides };
    this.nodePlans.set(nodeName, { plan, profileSeen: profileNow });
    return plan;
  }

  /** Keeps the index of which nodes override which port in step with a node's new overrides. */
  private trackOverrides(
    node: string,
    before: ReadonlyMap<string, ServiceFragment> | undefined,
    after: ReadonlyMap<string, ServiceFragment>,
  ): void {
    if (before === after) return;
    for (const port of before?.keys() ?? []) {
      if (after.has(port)) continue;
      const nodes = this.overridden.get(port);
      nodes?.delete(node);
      if (nodes?.size === 0) this.overridden.delete(port);
    }
    for (const port of after.keys()) {
      if (before?.has(port)) continue;
      let nodes = this.overridden.get(port);
      if (!nodes) this.overridden.set(port, (nodes = new Set()));
      nodes.add(node);
    }
  }

  /** Marks a changed port on the planned nodes it may concern (see dirtyPorts). */
  private markDirty(portName: string, state: PortState): void {
    const mark = (node: string) => {
      if (!this.nodePlans.has(node)) return; // planned afresh anyway
      let ports = this.dirtyPorts.get(node);
      if (!ports) this.dirtyPorts.set(node, (ports = new Set()));
      ports.add(portName);
    };
    for (const node of state.localNodes) mark(node);
    for (const node of this.overridden.get(portName) ?? NO_NODES) mark(node);
    for (const node of state.hints?.nodes ?? NO_NODES) mark(node);
    if (state.firewall) {
      this.profileLog.push(portName);
      if (this.profileLog.length > 100_000) {
        // Nodes planned before the trimmed part are planned afresh.
        this.profileLogBase += this.profileLog.length;
        this.profileLog = [];
      }
    }
  }

  /** Records the node's fragment of a port when it differs from the shared table's. */
  private override(
    overrides: Map<string, ServiceFragment>,
    services: ServiceTable,
    state: PortState,
    profile: NodeProfile,
    nodeName: string,
  ): void {
    const fragment = this.fragmentFor(state, profile, nodeName);
    if (fragment !== services.fragments.get(state.sp.portName)) overrides.set(state.sp.portName, fragment);
  }

  /**
   * The node's fragment of the port differs from its table's by its IP or name (beside its local
   * endpoints): a source range holds it, or node hints name it. Zone hints do not: nodes of one
   * zone take one table (the zone is part of the profile's serviceKey).
   */
  private concerns(state: PortState, profile: NodeProfile, nodeName: string): boolean {
    return this.allowsNode(state, profile) || (state.hints?.nodes?.has(nodeName) ?? false);
  }

  /** A loadBalancerSourceRange of the port contains the node's IP. */
  private allowsNode(state: PortState, profile: NodeProfile): boolean {
    const ip = profile.nodeIPNumber;
    const nodeIP = profile.nodeIP;
    if (state.firewall === undefined || nodeIP === undefined) return false;
    return state.firewall.some((range) =>
      Array.isArray(range)
        ? ip !== undefined && (ip & range[1]) >>> 0 === range[0]
        : cidrContains(range as Cidr, nodeIP),
    );
  }

  // --- services and endpoints ---------------------------------------------------------------

  private unlinkSlice(serviceKey: string, sliceKey: string): void {
    const set = this.slicesByService.get(serviceKey);
    if (!set) return;
    set.delete(sliceKey);
    if (set.size === 0) this.slicesByService.delete(serviceKey);
    this.rebuildService(serviceKey);
  }

  /** Recomputes the ports of one Service from its object and slices; marks what changed. */
  private rebuildService(serviceKey: string): void {
    const before = this.portsByService.get(serviceKey) ?? [];
    const previous = new Map(before.map((name) => [name, this.ports.get(name)!]));
    for (const portName of before) this.dropPort(portName);
    this.portsByService.delete(serviceKey);
    const service = this.services.get(serviceKey);
    if (service) {
      const sliceKeys = this.slicesByService.get(serviceKey) ?? new Set<string>();
      const endpointsByPort = endpointsOfService(
        [...sliceKeys].map((k) => this.slices.get(k)!),
        this.config.release,
        this.family,
      );
      const names: string[] = [];
      for (const sp of servicePortsOf(service, this.family)) {
        const endpoints = endpointsByPort.get(endpointPortKey(sp.endpointPortName, sp.protocol)) ?? [];
        this.addPort(sp, endpoints, previous.get(sp.portName));
        names.push(sp.portName);
      }
      this.portsByService.set(serviceKey, names);
    }
    const after = this.portsByService.get(serviceKey) ?? [];
    for (const name of after)
      this.conntrack.push(...conntrackCleanup(previous.get(name), this.ports.get(name)!));
    if (after.length !== before.length || after.some((name, i) => name !== before[i])) this.order = undefined;
    this.updateLargeClusterMode();
  }

  private addPort(sp: ServicePortInfo, endpoints: readonly EndpointInfo[], previous?: PortState): void {
    const localNodes = new Set<string>();
    if (usesLocalEndpoints(sp))
      for (const ep of endpoints) if (ep.nodeName !== null) localNodes.add(ep.nodeName);
    const hasFirewall = sp.loadBalancerVIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
    const state: PortState = {
      sp,
      endpoints,
      cluster: clusterEndpointsOf(endpoints),
      localNodes,
      firewall: hasFirewall
        ? sp.loadBalancerSourceRanges.map((c) => {
            if (c.family === 'IPv6') return c;
            const mask = c.prefix === 0 ? 0 : (~0 << (32 - c.prefix)) >>> 0;
            return [(ipv4ToNumber(c.address) & mask) >>> 0, mask] as const;
          })
        : undefined,
      hints: usesClusterEndpoints(sp) ? topologyHintsOf(endpoints) : undefined,
      sepChains: reusableEndpointChains(previous, sp, endpoints),
      fragments: new Map(),
    };
    this.ports.set(sp.portName, state);
    this.totalEndpoints += endpoints.length;
    for (const node of localNodes) {
      let set = this.localPortsByNode.get(node);
      if (!set) this.localPortsByNode.set(node, (set = new Set()));
      set.add(sp.portName);
    }
    for (const node of state.hints?.nodes ?? NO_NODES) {
      let set = this.hintedPortsByNode.get(node);
      if (!set) this.hintedPortsByNode.set(node, (set = new Set()));
      set.add(sp.portName);
    }
    if (hasFirewall) this.profilePorts.add(sp.portName);
    this.portChanged(sp.portName, state);
  }

  private dropPort(portName: string): void {
    const state = this.ports.get(portName);
    if (!state) return;
    this.ports.delete(portName);
    this.totalEndpoints -= state.endpoints.length;
    for (const node of state.localNodes) {
      const set = this.localPortsByNode.get(node);
      set?.delete(portName);
      if (set?.size === 0) this.localPortsByNode.delete(node);
    }
    for (const node of state.hints?.nodes ?? NO_NODES) {
      const set = this.hintedPortsByNode.get(node);
      set?.delete(portName);
      if (set?.size === 0) this.hintedPortsByNode.delete(node);
    }
    this.profilePorts.delete(portName);
    this.portChanged(portName, state);
  }

  private portChanged(portName: string, state: PortState): void {
    this.changedPorts.add(portName);
    this.markDirty(portName, state);
    for (const entry of this.tables.values()) entry.dirty.add(portName);
  }

  private updateLargeClusterMode(): void {
    const large = this.totalEndpoints > LARGE_CLUSTER_ENDPOINTS_THRESHOLD;
    if (large === this.largeClusterMode) return;
    // Every endpoint rule loses or regains its comment: all fragments are stale.
    this.largeClusterMode = large;
    for (const state of this.ports.values()) {
      state.sepChains.clear();
      state.fragments.clear();
    }
    this.tables.clear();
    this.forgetPlans();
    this.changedAll = true;
  }

  // --- nodes ----------------------------------------------------------------------------------

  private nodeChanged(name: string): void {
    this.profiles.delete(name);
    this.forgetPlan(name);
    this.changedNodes.add(name);
  }

  /** Drops a node's cached plan (it is planned afresh), and what the indexes hold of it. */
  private forgetPlan(name: string): void {
    const cached = this.nodePlans.get(name);
    if (cached) this.trackOverrides(name, cached.plan.overrides, new Map());
    this.nodePlans.delete(name);
    this.dirtyPorts.delete(name);
  }

  private forgetPlans(): void {
    this.nodePlans.clear();
    this.dirtyPorts.clear();
    this.overridden.clear();
  }

  private profileOf(nodeName: string): NodeProfile {
    let profile = this.profiles.get(nodeName);
    if (!profile) {
      const node = this.nodes.get(nodeName);
      profile = nodeProfile(
        this.config,
        this.hostFacts.get(nodeName) ?? defaultHostFacts(node),
        node,
        this.family,
      );
      this.profiles.set(nodeName, profile);
    }
    return profile;
  }

  // --- fragments and tables -------------------------------------------------------------------

  private sortedPortNames(): string[] {
    this.order ??= [...this.ports.keys()].sort();
    return this.order;
  }

  /** The service table for a profile, brought up to date by replacing only the changed ports. */
  private tableFor(profile: NodeProfile): ServiceTable {
    let entry = this.tables.get(profile.serviceKey);
    if (entry && entry.dirty.size === 0) return entry.table;
    const fragmentOf = (portName: string): [string, ServiceFragment | undefined] => {
      const state = this.ports.get(portName);
      return [portName, state && this.fragmentFor(state, profile, undefined)];
    };
    // The new table shares every unchanged fragment, and the map holding them, with the last one.
    const fragments = entry
      ? entry.table.fragments.with([...entry.dirty].map(fragmentOf))
      : LayeredMap.of([...this.ports.keys()].map((p) => fragmentOf(p) as [string, ServiceFragment]));
    entry = { table: { order: this.sortedPortNames(), fragments }, dirty: new Set() };
    this.tables.set(profile.serviceKey, entry);
    return entry.table;
  }

  /**
   * The fragment of a port on a node (undefined: the profile's default node, with no local
   * endpoints and outside every source range). Cached per profile and variant.
   */
  private fragmentFor(state: PortState, profile: NodeProfile, nodeName: string | undefined): ServiceFragment {
    const isLocalNode = nodeName !== undefined && state.localNodes.has(nodeName);
    const allowFromNode = nodeName !== undefined && this.allowsNode(state, profile);
    // Only the node's local endpoints tell its fragment apart: they key the cache, and the full
    // categorisation runs only when the fragment is not there yet.
    const variant =
      isLocalNode && usesLocalEndpoints(state.sp)
        ? localEndpointsOf(state.endpoints, nodeName)
            .local.map((ep) => ep.hostPort)
            .join(',')
        : '';
    // Hints single out the node by name, or its zone: the table's (default) fragment is its zone's.
    const at = { nodeName: nodeName ?? '', zone: profile.zone };
    const mode = topologyModeAt(state.hints, at);
    const topology =
      mode === 'PreferSameNode' ? `n:${at.nodeName}` : mode === 'PreferSameZone' ? `z:${at.zone}` : '';
    const key = `${profile.serviceKey}#${variant}#${allowFromNode ? 1 : 0}#${topology}`;
    let fragment = state.fragments.get(key);
    if (!fragment) {
      const endpoints = categorizeEndpoints(
        state.sp,
        state.endpoints,
        state.cluster,
        isLocalNode ? nodeName : '',
        mode === '' ? undefined : at,
      );
      fragment = serviceFragment(
        state.sp,
        { endpoints, allowFromNode },
        profile,
        this.largeClusterMode,
        (ep) => {
          let chain = state.sepChains.get(ep.hostPort);
          if (!chain)
            state.sepChains.set(ep.hostPort, (chain = endpointChain(state.sp, ep, this.largeClusterMode)));
          return chain;
        },
      );
      state.fragments.set(key, fragment);
    }
    return fragment;
  }
}

/**
 * The KUBE-SEP- chains of the port's previous state that its new state can share: an endpoint
 * chain is made of the port's name, protocol and affinity and the endpoint's address, so those of
 * endpoints still there are kept (and their names not hashed again when one endpoint changes).
 */
function reusableEndpointChains(
  previous: PortState | undefined,
  sp: ServicePortInfo,
  endpoints: readonly EndpointInfo[],
): Map<string, Chain> {
  const kept = new Map<string, Chain>();
  const before = previous?.sp;
  if (!before || before.proto !== sp.proto || before.sessionAffinityClientIP !== sp.sessionAffinityClientIP)
    return kept;
  for (const ep of endpoints) {
    const chain = previous.sepChains.get(ep.hostPort);
    if (chain) kept.set(ep.hostPort, chain);
  }
  return kept;
}

/** The service's addresses that flows to it were sent to: cluster IP, external IPs, LB VIPs. */
function serviceAddresses(sp: ServicePortInfo): string[] {
  return [sp.clusterIP, ...sp.externalIPs, ...sp.loadBalancerVIPs];
}

/**
 * kube-proxy's UDP conntrack cleanup for one service port: flows to endpoints that stopped
 * serving, and flows to the service when it goes from no serving endpoint to some (until then
 * they were rejected, and conntrack would keep sending new packets of them nowhere).
 */
function conntrackCleanup(before: PortState | undefined, after: PortState): ConntrackDeletion[] {
  const sp = after.sp;
  if (sp.protocol !== 'UDP') return [];
  const serving = (s: PortState | undefined) =>
    new Set((s?.endpoints ?? []).filter((e) => e.serving).map((e) => e.ip));
  const was = serving(before);
  const is = serving(after);
  const out: ConntrackDeletion[] = [];
  if (was.size === 0 && is.size > 0) {
    for (const ip of serviceAddresses(sp)) out.push({ protocol: 'udp', origDst: ip, origPortDst: sp.port });
    if (sp.nodePort) out.push({ protocol: 'udp', origPortDst: sp.nodePort });
  }
  for (const gone of [...was].filter((ip) => !is.has(ip)).sort()) {
    for (const ip of serviceAddresses(sp)) out.push({ protocol: 'udp', origDst: ip, replySrc: gone });
    if (sp.nodePort) out.push({ protocol: 'udp', origPortDst: sp.nodePort, replySrc: gone });
  }
  return out;
}
