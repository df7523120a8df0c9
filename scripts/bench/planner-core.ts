import { DEFAULT_PROXY_CONFIG, type EndpointSlice, type IpFamily, type KubeObject } from '@netledger/model';
import { KubeProxyPlanner, kubeProxyTables, type NodeProxyPlan } from '@netledger/planner-core';
import { syntheticCluster } from '../../test/support/synthetic-cluster';
import { percentile, round } from './figures';

/**
 * The kube-proxy planner on the benchmark cluster: 5,000 nodes, 10,000 services, ~100,000
 * endpoints. Every node's plan is held at once, as the planner service holds them. Then the same
 * cluster over 3 zones with every endpoint hinted for its zone (trafficDistribution
 * PreferSameZone on every Service): nodes of a zone share, but no longer with the other zones.
 * Then dual-stack: both of kube-proxy's proxiers on every node (rules per node: both families).
 */
export function benchPlannerCore(): Record<string, number> {
  return {
    ...benchPlanner(
      'plan',
      syntheticCluster({ nodes: 5000, services: 10_000, endpointsPerService: 10, seed: 42 }),
    ),
    ...benchPlanner(
      'plan.zoneHinted',
      syntheticCluster({ nodes: 5000, services: 10_000, endpointsPerService: 10, seed: 42, zones: 3 }),
    ),
    // kube-proxy's two proxiers on every node of a dual-stack cluster, as the planner runs them.
    ...benchPlanner(
      'plan.dualStack',
      syntheticCluster({ nodes: 5000, services: 10_000, endpointsPerService: 10, seed: 42, dualStack: true }),
      ['IPv4', 'IPv6'],
    ),
  };
}

function benchPlanner(
  prefix: string,
  cluster: ReturnType<typeof syntheticCluster>,
  families: readonly IpFamily[] = ['IPv4'],
): Record<string, number> {
  const endpoints = cluster.slices.reduce((n, s) => n + s.endpoints.length, 0);
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;

  const start = performance.now();
  const clusterCIDRs = ['10.64.0.0/10', 'fd00:10::/32'];
  const proxiers = families.map((f) => new KubeProxyPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs }, f));
  const planner = {
    upsert: (o: KubeObject) => proxiers.forEach((p) => p.upsert(o)),
    takeChanges: () => proxiers.forEach((p) => p.takeChanges()),
    planNode: (name: string) => proxiers.map((p) => p.planNode(name)),
  };
  for (const o of cluster.nodes) planner.upsert(o);
  for (const o of cluster.services) planner.upsert(o);
  for (const o of cluster.slices) planner.upsert(o);
  const plans: NodeProxyPlan[][] = cluster.nodes.map((n) => planner.planNode(n.name));
  const fullSeconds = (performance.now() - start) / 1000;
  planner.takeChanges();

  const sample = plans.filter((_, i) => i % 250 === 0).flatMap((ps) => ps.map((p) => kubeProxyTables(p)));
  const rulesPerNode =
    sample.reduce(
      (n, t) => n + [...t.filter.chains, ...t.nat.chains].reduce((m, c) => m + c.rules.length, 0),
      0,
    ) /
    (sample.length / families.length);

  // One endpoint added to or removed from one service, then every node's state recomputed.
  const timings: number[] = [];
  const slices = new Map(cluster.slices.map((s) => [`${s.namespace}/${s.name}`, s]));
  const keys = [...slices.keys()];
  for (let i = 0; i < 200; i++) {
    const key = keys[(i * 7919) % keys.length]!;
    const current = slices.get(key)!;
    const next: EndpointSlice =
      i % 2 === 0
        ? {
            ...current,
            endpoints: [
              ...current.endpoints,
              { ...current.endpoints[0]!, addresses: [`10.127.${i >> 8}.${i & 255}`] },
            ],
          }
        : { ...current, endpoints: current.endpoints.slice(1) };
    const t0 = performance.now();
    planner.upsert(next);
    planner.takeChanges();
    for (let n = 0; n < plans.length; n++) plans[n] = planner.planNode(cluster.nodes[n]!.name);
    timings.push(performance.now() - t0);
    slices.set(key, next);
  }
  timings.sort((a, b) => a - b);
  const peak = process.resourceUsage().maxRSS * 1024;

  const figures: Record<string, number> = {
    nodes: cluster.nodes.length,
    services: cluster.services.length,
    endpoints,
    fullSeconds: round(fullSeconds, 3),
    peakRssMiB: round(peak / 2 ** 20, 1),
    heldRssMiB: round((process.memoryUsage().rss - rssBefore) / 2 ** 20, 1),
    rulesPerNode: Math.round(rulesPerNode),
    endpointChangeP50Ms: round(percentile(timings, 50), 2),
    endpointChangeP99Ms: round(percentile(timings, 99), 2),
  };
  return Object.fromEntries(Object.entries(figures).map(([k, v]) => [`${prefix}.${k}`, v]));
}
