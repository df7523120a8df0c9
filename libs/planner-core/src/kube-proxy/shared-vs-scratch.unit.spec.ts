import { describe, expect, it } from 'vitest';
import { DEFAULT_PROXY_CONFIG } from '@netledger/model';
import { renderRestore, renderJumps } from '../iptables/render-restore';
import { KubeProxyPlanner } from './kube-proxy-planner';
import { kubeProxyTables } from './tables';
import { syntheticCluster } from '../../../../test/support/synthetic-cluster';

/** Structural sharing must never change a result: shared planning equals planning each node alone. */
describe('shared computation', () => {
  it('gives every one of 500 nodes exactly the state a from-scratch plan of that node gives', () => {
    const cluster = syntheticCluster({ nodes: 500, services: 80, endpointsPerService: 5, seed: 7 });
    const config = { ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.64.0.0/10'] };
    const load = (p: KubeProxyPlanner) => {
      for (const o of [...cluster.nodes, ...cluster.services, ...cluster.slices]) p.upsert(o);
    };
    const text = (p: KubeProxyPlanner, n: string) => {
      const t = kubeProxyTables(p.planNode(n));
      return renderRestore([t.filter, t.nat]) + renderJumps(t.jumps);
    };
    const shared = new KubeProxyPlanner(config);
    load(shared);
    let withOverrides = 0;
    for (const n of cluster.nodes) {
      const alone = new KubeProxyPlanner(config);
      load(alone);
      const plan = shared.planNode(n.name);
      if (plan.overrides.size > 0) withOverrides++;
      expect(text(shared, n.name)).toBe(text(alone, n.name));
    }
    // The cluster exercises node-specific fragments (Local policy endpoints on the node).
    expect(withOverrides).toBeGreaterThan(10);
  }, 120_000);

  it('keeps giving from-scratch results after incremental changes', () => {
    const cluster = syntheticCluster({ nodes: 40, services: 120, endpointsPerService: 6, seed: 9 });
    const config = { ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.64.0.0/10'] };
    const live = new KubeProxyPlanner(config);
    for (const o of [...cluster.nodes, ...cluster.services, ...cluster.slices]) live.upsert(o);
    for (const n of cluster.nodes) live.planNode(n.name);
    // Change a third of the slices, remove a tenth of the services, and give a seventh ClientIP
    // affinity (their endpoint chains change although their endpoints do not).
    const slices = cluster.slices.map((s, i) =>
      i % 3 === 0 ? { ...s, endpoints: s.endpoints.slice(1) } : s,
    );
    for (const [i, s] of slices.entries()) if (i % 3 === 0) live.upsert(s);
    const services = cluster.services
      .map((s, i) => (i % 7 === 3 ? { ...s, sessionAffinity: 'ClientIP' as const } : s))
      .filter((_, i) => i % 10 !== 5);
    for (const [i, s] of cluster.services.entries())
      if (i % 10 === 5) live.remove('Service', s.namespace, s.name);
    for (const s of services) if (s.sessionAffinity === 'ClientIP') live.upsert(s);
    const fresh = new KubeProxyPlanner(config);
    for (const o of [...cluster.nodes, ...services, ...slices]) fresh.upsert(o);
    for (const n of cluster.nodes) {
      const a = kubeProxyTables(live.planNode(n.name));
      const b = kubeProxyTables(fresh.planNode(n.name));
      expect(renderRestore([a.filter, a.nat])).toBe(renderRestore([b.filter, b.nat]));
    }
  });
});
