import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { DEFAULT_PROXY_CONFIG } from '@netledger/model';
import { LinuxHost } from '@netledger/dataplane';
import {
  diffNodeStates,
  NetworkPlanner,
  nodeStateOf,
  ownsChain,
  renderStateRestore,
} from '@netledger/planner-core';
import { syntheticCluster } from '../../test/support/synthetic-cluster';

/**
 * The executor's Linux backend in a network namespace holding the rules of 10,000 services:
 * one service change applied as a partial diff, against a full restore of the same tables.
 */
export async function benchExecutor(): Promise<Record<string, number>> {
  if (process.getuid?.() !== 0) return {};
  const netns = `nlbench-${randomBytes(3).toString('hex')}`;
  execFileSync('ip', ['netns', 'add', netns]);
  try {
    const cluster = syntheticCluster({ nodes: 50, services: 10_000, endpointsPerService: 2, seed: 11 });
    const planner = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.64.0.0/10'] });
    for (const o of [...cluster.nodes, ...cluster.services, ...cluster.slices]) planner.upsert(o);
    const node = cluster.nodes[0]!.name;
    const before = nodeStateOf(planner.planNode(node));
    const host = new LinuxHost({
      netns,
      device: () => 'flannel.1',
      ownsRoute: () => false,
      ownsChain: (c, family) => ownsChain(before, c, family),
    });

    // A full restore, as kube-proxy's full sync writes it, onto a host that already has the rules.
    const full = renderStateRestore(before);
    execFileSync('ip', ['netns', 'exec', netns, 'iptables-restore', '--noflush'], { input: full });
    const t = performance.now();
    execFileSync('ip', ['netns', 'exec', netns, 'iptables-restore', '--noflush'], {
      input: full,
      maxBuffer: 1 << 30,
    });
    const fullRestoreMs = performance.now() - t;
    const rules = [...before.chains.values()].reduce((n, c) => n + c.rules.length, 0);

    // One service change: a new ClusterIP service with two endpoints, applied as a diff. The
    // first one in the process also pays for compiling the renderer; a running executor has
    // done that long before, so the figure is the second change's (the first is reported too).
    let state = before;
    const addService = async (name: string, clusterIP: string) => {
      const template = cluster.services[1]!;
      planner.upsert({ ...template, namespace: 'bench', name, clusterIPs: [clusterIP] });
      planner.upsert({ ...cluster.slices[1]!, namespace: 'bench', name: `${name}-1`, serviceName: name });
      const next = nodeStateOf(planner.planNode(node));
      const diff = diffNodeStates(state, next);
      const t0 = performance.now();
      await host.apply(
        {
          ...diff,
          devices: { upsert: [], delete: [] },
          routes: { upsert: [], delete: [] },
          neighbours: { upsert: [], delete: [] },
          fdb: { upsert: [], delete: [] },
        },
        state,
      );
      state = next;
      return performance.now() - t0;
    };
    const partialApplyColdMs = await addService('added', '172.31.255.1');
    const partialApplyMs = await addService('added-again', '172.31.255.2');
    return {
      'executor.hostRules': rules,
      'executor.partialApplyMs': Math.round(partialApplyMs),
      'executor.partialApplyColdMs': Math.round(partialApplyColdMs),
      'executor.fullRestoreMs': Math.round(fullRestoreMs),
    };
  } finally {
    execFileSync('ip', ['netns', 'del', netns]);
  }
}
