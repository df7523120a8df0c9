import {
  nodeState,
  type FdbEntry,
  type IpFamily,
  type NeighbourEntry,
  type NodeDiff,
  type NodeState,
  type RouteEntry,
} from '@netledger/model';
import {
  batchInput,
  formatOverlayOps,
  ownedIptables,
  parseBridgeFdb,
  parseIpNeighbours,
  parseIpRoutes,
  parseIptablesSave,
  parseVxlanDevice,
  conntrackArgs,
  renderDiffOverlay,
  renderDiffRestore,
} from '@netledger/planner-core';
import { CommandError, hostCommands, type CommandRunner } from './command-runner';
import type { ApplyReport, DataplaneHost } from './host';

export interface LinuxHostOptions {
  /** Program this network namespace instead of the one the process runs in. */
  readonly netns?: string;
  /**
   * The overlay device whose routes, neighbours and FDB entries are Netledger's (flannel.<VNI>);
   * its IPv6 sibling flannel-v6.<VNI> is too.
   */
  readonly device: () => string;
  /** Whether a route on another device is Netledger's (a DirectRouting route it placed). */
  readonly ownsRoute: (route: RouteEntry) => boolean;
  /**
   * Whether a user chain (and the jumps to it from built-in chains) is Netledger's: the chains it
   * always owns and those its desired state holds, `(c, f) => ownsChain(desired, c, f)`
   * (docs/executor.md); `family` says whether it is an iptables or an ip6tables chain.
   */
  readonly ownsChain: (chain: string, family: IpFamily) => boolean;
  readonly run?: CommandRunner;
}

/** flannel's overlay devices, of any VNI: IPv4's flannel.<VNI>, IPv6's flannel-v6.<VNI>. */
const OVERLAY_DEVICE = /^flannel(-v6)?\.\d+$/;

/** What ip6tables-save says on a host without IPv6 netfilter (no ip6_tables, IPv6 disabled). */
const NO_IP6TABLES =
  /can't initialize ip6tables|Address family not supported|Table does not exist|not found|No such file/i;

/**
 * The Linux host: iptables-restore --noflush then ip6tables-restore --noflush (one call per family
 * and diff, atomic per table), then `ip -batch` and `bridge -batch` in the order that never leaves
 * a route without its VTEP. Rules, chains and routes Netledger does not own are never touched.
 */
export class LinuxHost implements DataplaneHost {
  private readonly run: CommandRunner;

  constructor(private readonly options: LinuxHostOptions) {
    this.run = options.run ?? hostCommands(options.netns);
  }

  async apply(diff: NodeDiff, from: NodeState): Promise<ApplyReport> {
    const t0 = performance.now();
    // Everything rendered (and refused, if a line would not be one) before anything runs.
    const restore = renderDiffRestore(diff, from, 'IPv4');
    const restore6 = renderDiffRestore(diff, from, 'IPv6');
    const ops = renderDiffOverlay(from, diff);
    const [ipBefore, bridge, ipAfter] = [ops.ipBefore, ops.bridge, ops.ipAfter].map(batchInput);
    if (restore) await this.run('iptables-restore', ['--noflush', '--wait'], restore);
    if (restore6) await this.run('ip6tables-restore', ['--noflush', '--wait'], restore6);
    const t1 = performance.now();
    // NOTE: device and removals first, then FDB, then neighbours and routes (see renderDiffOverlay).
    if (ipBefore) await this.run('ip', ['-batch', '-'], ipBefore);
    if (bridge) await this.run('bridge', ['-batch', '-'], bridge);
    if (ipAfter) await this.run('ip', ['-batch', '-'], ipAfter);
    // NOTE: after the rules: a flow deleted earlier could be re-created on the old rules.
    const conntrack = (diff.conntrack ?? []).map(conntrackArgs);
    for (const args of conntrack) {
      try {
        await this.run('conntrack', args);
      } catch (error) {
        // conntrack exits 1 when nothing matched: that is not a failure.
        if (!(error instanceof CommandError) || !/0 flow entries have been deleted/.test(error.stderr))
          throw error;
      }
    }
    return {
      iptablesMs: t1 - t0,
      overlayMs: performance.now() - t1,
      operations: `${restore ? `# iptables-restore --noflush\n${restore}` : ''}${restore6 ? `# ip6tables-restore --noflush\n${restore6}` : ''}${formatOverlayOps(ops)}${conntrack.map((a) => `# conntrack ${a.join(' ')}\n`).join('')}`,
    };
  }

  async read(): Promise<NodeState> {
    const device = this.options.device();
    // The overlay's IPv6 device (flannel-v6.<VNI>) is owned with its IPv4 one (flannel.<VNI>).
    const owned6Device = device.replace(/^flannel\./, 'flannel-v6.');
    const owned = ownedIptables(parseIptablesSave(await this.run('iptables-save', [])), (c) =>
      this.options.ownsChain(c, 'IPv4'),
    );
    const owned6 = ownedIptables(
      parseIptablesSave(await this.readIp6tables()),
      (c) => this.options.ownsChain(c, 'IPv6'),
      'IPv6',
    );
    const links = JSON.parse(await this.run('ip', ['-json', 'link', 'show'])) as { ifname?: string }[];
    const present = new Set(links.map((l) => l.ifname));
    const ownDevices = [device, owned6Device].filter((d) => present.has(d));
    // The overlay devices, and those of another VNI (flannel.<VNI> and flannel-v6.<VNI> are all
    // Netledger's): read, so that a reconcile deletes them (their entries go with them).
    const overlays = links.flatMap((l) =>
      ownDevices.includes(l.ifname ?? '') || OVERLAY_DEVICE.test(l.ifname ?? '') ? [l.ifname!] : [],
    );
    const readDevice = async (name: string) =>
      parseVxlanDevice(
        JSON.parse(await this.run('ip', ['-json', '-d', 'link', 'show', name])),
        JSON.parse(await this.run('ip', ['-json', 'addr', 'show', 'dev', name])),
      );
    // Only Netledger's routes: those on an overlay device, and the direct routes it placed.
    const routes = [
      ...parseIpRoutes(JSON.parse(await this.run('ip', ['-json', 'route', 'show', 'table', 'main']))),
      ...parseIpRoutes(JSON.parse(await this.run('ip', ['-6', '-json', 'route', 'show', 'table', 'main']))),
    ].filter((r) => (r.dev !== null && ownDevices.includes(r.dev)) || this.options.ownsRoute(r));
    const neighbours: NeighbourEntry[] = [];
    const fdb: FdbEntry[] = [];
    for (const dev of ownDevices) {
      neighbours.push(
        ...parseIpNeighbours(JSON.parse(await this.run('ip', ['-json', 'neigh', 'show', 'dev', dev])), dev),
      );
      fdb.push(
        ...parseBridgeFdb(JSON.parse(await this.run('bridge', ['-json', 'fdb', 'show', 'dev', dev])), dev),
      );
    }
    return nodeState({
      chains: [...owned.chains, ...owned6.chains],
      // The host does not say how a jump got where it is; the executor's state says prepend or append.
      jumps: [...owned.jumps, ...owned6.jumps].map((j) => ({ ...j, position: 'prepend' as const })),
      devices: (await Promise.all(overlays.map(readDevice))).filter((d) => d !== undefined),
      routes,
      neighbours,
      fdb,
    });
  }

  /**
   * ip6tables-save's output; empty on a host without IPv6 netfilter, which then holds no IPv6
   * rules (a desired state that has some fails at ip6tables-restore, and says so). Any other
   * failure is a failure: a host that cannot be read is not touched.
   */
  private async readIp6tables(): Promise<string> {
    try {
      return await this.run('ip6tables-save', []);
    } catch (error) {
      if (error instanceof CommandError && (error.code === 'ENOENT' || NO_IP6TABLES.test(error.stderr)))
        return '';
      throw error;
    }
  }
}
