import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { driftCount, LinuxHost, reconcileDiff } from '@netledger/dataplane';
import {
  DEFAULT_PROXY_CONFIG,
  nodeState,
  parseNetConf,
  validateObject,
  type NodeState,
} from '@netledger/model';
import { isNetledgerChain, NetworkPlanner, nodeStateOf } from '@netledger/planner-core';
import { eventually } from '../support/kafka-reader';
import { KubeControlPlane } from '../support/kube-control-plane';
import { LoopbackRelay } from '../support/loopback-relay';
import { canUseNetns, run, TestNamespace } from '../support/netns';

/*
 * The overlay held to the real thing: flannel's own vxlan backend and iptables rules (v0.28, built
 * from the Go module proxy by scripts/kube build-flannel-reference, wired as flanneld wires them)
 * program three dual-stack nodes, each a network namespace on one underlay bridge, from Node
 * objects in a real kube-apiserver, which flannel annotates with its leases (VTEP MACs, public
 * IPs). Netledger plans the same annotated Nodes under the same net-conf, and each node's host,
 * read back as the executor reads it, must hold exactly Netledger's overlay: both VXLAN devices,
 * every route, neighbour and FDB entry, flannel's chains and jumps in iptables and ip6tables.
 */
const netConf = (directRouting: boolean) => ({
  Network: '10.244.0.0/16',
  EnableIPv6: true,
  IPv6Network: 'fd00:10:244::/56',
  Backend: { Type: 'vxlan', DirectRouting: directRouting },
});
const NODES = [1, 2, 3].map((n) => ({
  name: `node-${n}`,
  ipv4: `198.18.0.1${n}`,
  ipv6: `fd00:198:18::1${n}`,
  podCIDRs: [`10.244.${n}.0/24`, `fd00:10:244:${n}::/64`],
}));

const repo = resolve(__dirname, '..', '..');

/** Netledger's overlay part of a node state: devices and their entries, flannel's chains and jumps. */
const overlayOf = (s: NodeState): NodeState =>
  nodeState({
    chains: [...s.chains.values()].filter((c) => c.chain.startsWith('FLANNEL-')),
    jumps: [...s.jumps.values()].filter((j) => / -j FLANNEL-/.test(` ${j.rule}`)),
    devices: s.devices.values(),
    routes: s.routes.values(),
    neighbours: s.neighbours.values(),
    fdb: s.fdb.values(),
  });

describe.skipIf(!canUseNetns).each([false, true])(
  "the overlay against flannel's own vxlan backend, on real kernels (DirectRouting: %s)",
  (directRouting) => {
    const NET_CONF = netConf(directRouting);
    let kube: KubeControlPlane;
    const namespaces: TestNamespace[] = [];
    const relays: LoopbackRelay[] = [];
    const flannels: ChildProcess[] = [];
    const logs = new Map<string, string>();
    const nodeNs = new Map<string, TestNamespace>();

    beforeAll(async () => {
      const binary = execFileSync(join(repo, 'scripts', 'kube'), ['build-flannel-reference'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      }).trim();
      kube = new KubeControlPlane();
      await kube.up();
      const sw = new TestNamespace('fsw');
      namespaces.push(sw);
      sw.exec('ip', ['link', 'add', 'br0', 'type', 'bridge']);
      sw.exec('ip', ['link', 'set', 'br0', 'up']);
      for (const [i, node] of NODES.entries()) {
        const ns = new TestNamespace(`fn${i + 1}`);
        namespaces.push(ns);
        nodeNs.set(node.name, ns);
        const uplink = `f${i + 1}-${ns.name.slice(-6)}`;
        run('ip', [
          'link',
          'add',
          'eth0',
          'netns',
          ns.name,
          'type',
          'veth',
          'peer',
          'name',
          uplink,
          'netns',
          sw.name,
        ]);
        sw.exec('ip', ['link', 'set', uplink, 'master', 'br0', 'up']);
        ns.exec('ip', ['addr', 'add', `${node.ipv4}/24`, 'dev', 'eth0']);
        ns.exec('ip', ['addr', 'add', `${node.ipv6}/64`, 'dev', 'eth0', 'nodad']);
        ns.exec('ip', ['link', 'set', 'eth0', 'up']);
      }
      const nodes = NODES.map((node) => ({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: node.name },
        spec: { podCIDR: node.podCIDRs[0], podCIDRs: node.podCIDRs },
      }));
      await kube.kubectl(
        ['apply', '-f', '-'],
        JSON.stringify({ apiVersion: 'v1', kind: 'List', items: nodes }),
      );
      // Addresses are status: set as the kubelet would.
      for (const node of NODES) {
        const status = {
          status: {
            addresses: [
              { type: 'InternalIP', address: node.ipv4 },
              { type: 'InternalIP', address: node.ipv6 },
              { type: 'Hostname', address: node.name },
            ],
          },
        };
        await kube.kubectl([
          'patch',
          'node',
          node.name,
          '--subresource=status',
          '--type=merge',
          '-p',
          JSON.stringify(status),
        ]);
      }
      const netConfFile = join(mkdtempSync(join(tmpdir(), 'nl-flannel-')), 'net-conf.json');
      writeFileSync(netConfFile, JSON.stringify(NET_CONF));
      for (const node of NODES) {
        const ns = nodeNs.get(node.name)!;
        relays.push(await LoopbackRelay.start(ns.name, kube.apiserverPort));
        const flannel = spawn(
          'ip',
          ['netns', 'exec', ns.name, binary, '-kubeconfig', kube.adminKubeconfig, '-net-conf', netConfFile],
          { env: { ...process.env, NODE_NAME: node.name }, stdio: ['ignore', 'pipe', 'pipe'] },
        );
        flannels.push(flannel);
        const keep = (d: Buffer) =>
          logs.set(node.name, ((logs.get(node.name) ?? '') + d.toString()).slice(-20_000));
        flannel.stdout!.on('data', keep);
        flannel.stderr!.on('data', keep);
      }
      // Every node holds a route to each other node's subnet, on each overlay device.
      await eventually(
        () => {
          for (const flannel of flannels)
            if (flannel.exitCode !== null)
              throw new Error(`flannel exited:\n${[...logs.values()].join('\n')}`);
          return NODES.every(({ name }) => {
            const ns = nodeNs.get(name)!;
            /** Routes to other nodes' pod subnets (over the overlay, or direct). */
            const viaRoutes = (args: string[]) =>
              ns
                .exec('ip', args)
                .split('\n')
                .filter((l) => l.includes('via')).length;
            return (
              viaRoutes(['route', 'show', 'root', NET_CONF.Network]) === NODES.length - 1 &&
              viaRoutes(['-6', 'route', 'show', 'root', NET_CONF.IPv6Network]) === NODES.length - 1
            );
          });
        },
        "flannel to program every node's overlay",
        120_000,
      ).catch((error: unknown) => {
        const routes = NODES.map(({ name }) => {
          const ns = nodeNs.get(name)!;
          return `${name}:\n${ns.exec('ip', ['route'])}${ns.exec('ip', ['-6', 'route'])}`;
        });
        throw new Error(`${String(error)}\n${routes.join('\n')}\n${[...logs.values()].join('\n')}`, {
          cause: error,
        });
      });
    }, 300_000);

    afterAll(async () => {
      for (const flannel of flannels) {
        if (flannel.exitCode !== null) continue;
        const exited = once(flannel, 'exit');
        flannel.kill('SIGKILL');
        await exited;
      }
      for (const relay of relays) await relay.stop();
      for (const ns of namespaces.reverse()) ns.remove();
      await kube?.down();
    }, 120_000);

    it('each node holds exactly the overlay Netledger plans from the Nodes flannel annotated: devices, routes, neighbours, FDB entries, iptables and ip6tables', async () => {
      const listed = JSON.parse(await kube.kubectl(['get', 'nodes', '-o', 'json'])) as {
        items: Record<string, unknown>[];
      };
      // flannel wrote its leases into the Nodes: Netledger takes them from there.
      for (const item of listed.items) {
        const annotations = (item.metadata as { annotations: Record<string, string> }).annotations;
        expect(Object.keys(annotations)).toEqual(
          expect.arrayContaining([
            'flannel.alpha.coreos.com/backend-data',
            'flannel.alpha.coreos.com/backend-v6-data',
            'flannel.alpha.coreos.com/public-ip',
            'flannel.alpha.coreos.com/public-ipv6',
          ]),
        );
      }
      const planner = new NetworkPlanner(
        { ...DEFAULT_PROXY_CONFIG, clusterCIDRs: [NET_CONF.Network, NET_CONF.IPv6Network] },
        parseNetConf(NET_CONF),
      );
      for (const item of listed.items) planner.upsert(validateObject(item));
      for (const node of NODES) {
        planner.setHostFacts(node.name, {
          interfaceAddresses: ['127.0.0.1/8', `${node.ipv4}/24`, `${node.ipv6}/64`],
          randomFully: true,
          nfacctCounters: [],
          conntrackTcpBeLiberal: false,
          underlayMtu: 1500,
        });
      }
      for (const node of NODES) {
        const desired = overlayOf(nodeStateOf(planner.planNode(node.name)));
        expect([...desired.devices.keys()].sort()).toEqual(['flannel-v6.1', 'flannel.1']);
        expect(desired.routes.size).toBe(2 * (NODES.length - 1));
        // All nodes share both underlay subnets: with DirectRouting, no route goes over VXLAN.
        expect(desired.neighbours.size).toBe(directRouting ? 0 : 2 * (NODES.length - 1));
        const host = new LinuxHost({
          netns: nodeNs.get(node.name)!.name,
          device: () => 'flannel.1',
          ownsRoute: (r) => desired.routes.has(r.dst),
          ownsChain: isNetledgerChain,
        });
        const diff = reconcileDiff(await host.read(), desired);
        expect(driftCount(diff), `${node.name} differs from flannel:\n${JSON.stringify(diff, null, 1)}`).toBe(
          0,
        );
      }
    });
  },
);
