import {
  DEFAULT_OVERLAY_CONFIG,
  DEFAULT_PROXY_CONFIG,
  isEmptyDiff,
  type EndpointSlice,
  type NodeDiff,
  type Service,
} from '@netledger/model';
import {
  diffNodePlans,
  formatOverlayOps,
  NetworkPlanner,
  renderDiffOverlay,
  renderDiffRestore,
  type NodePlan,
} from '@netledger/planner-core';
import { EMPTY_NODE_STATE } from '@netledger/model';
import { syntheticCluster } from '../../test/support/synthetic-cluster';

/** Bytes of a diff as the executor runs it: iptables-restore input plus ip/bridge batch lines. */
function renderedBytes(diff: NodeDiff): number {
  // Overlay removals need the old entries to name them; additions do not. The bench's changes only add.
  return Buffer.byteLength(
    renderDiffRestore(diff) + formatOverlayOps(renderDiffOverlay(EMPTY_NODE_STATE, diff)),
  );
}

/**
 * Diff sizes on the 5,000-node / 10,000-service cluster for three changes: (a) one endpoint added
 * to a Cluster-policy service, (b) one new ClusterIP service with endpoints, (c) one node joining.
 */
export function benchDiffs(): Record<string, number> {
  const cluster = syntheticCluster({ nodes: 5000, services: 10_000, endpointsPerService: 10, seed: 42 });
  const planner = new NetworkPlanner(
    { ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.64.0.0/10'] },
    { ...DEFAULT_OVERLAY_CONFIG, network: '10.64.0.0/10' },
  );
  for (const o of [...cluster.nodes, ...cluster.services, ...cluster.slices]) planner.upsert(o);
  let plans = new Map<string, NodePlan>(cluster.nodes.map((n) => [n.name, planner.planNode(n.name)]));
  planner.takeChanges();

  const step = (change: () => void) => {
    change();
    const changes = planner.takeChanges();
    const started = performance.now();
    const next = new Map<string, NodePlan>();
    let affected = 0;
    let bytes = 0;
    let maxBytes = 0;
    const diffs: NodeDiff[] = [];
    for (const name of planner.nodeNames()) {
      const to = planner.planNode(name);
      const from = plans.get(name);
      next.set(name, to);
      if (!from) continue;
      const diff = diffNodePlans(from, to, changes);
      if (isEmptyDiff(diff)) continue;
      affected++;
      const b = renderedBytes(diff);
      bytes += b;
      maxBytes = Math.max(maxBytes, b);
      diffs.push(diff);
    }
    const ms = performance.now() - started;
    plans = next;
    return { affected, bytesPerNode: affected ? Math.round(bytes / affected) : 0, maxBytes, ms, diffs };
  };

  const clusterIpSlice = cluster.slices.find(
    (s, i) => cluster.services[i]!.type === 'ClusterIP' && cluster.services[i]!.ports.length === 1,
  )!;
  const endpointAdd = step(() => {
    const next: EndpointSlice = {
      ...clusterIpSlice,
      endpoints: [
        ...clusterIpSlice.endpoints,
        { ...clusterIpSlice.endpoints[0]!, addresses: ['10.127.0.1'] },
      ],
    };
    planner.upsert(next);
  });

  const template = cluster.services.find((s) => s.type === 'ClusterIP' && s.ports.length === 1)!;
  const serviceAdd = step(() => {
    const service: Service = {
      ...template,
      namespace: 'bench',
      name: 'new-service',
      clusterIPs: ['172.31.255.1'],
    };
    planner.upsert(service);
    planner.upsert({
      ...clusterIpSlice,
      namespace: 'bench',
      name: 'new-service-abcde',
      serviceName: 'new-service',
    });
  });

  const nodeJoin = step(() =>
    planner.upsert({
      ...cluster.nodes[0]!,
      name: 'node-new',
      podCIDRs: ['10.127.255.0/24'],
      addresses: [{ type: 'InternalIP', address: '192.168.250.1' }],
    }),
  );
  const exactlyOneEach = nodeJoin.diffs.every(
    (d) =>
      d.chains.length === 0 &&
      d.routes.upsert.length === 1 &&
      d.neighbours.upsert.length === 1 &&
      d.fdb.upsert.length === 1 &&
      d.routes.delete.length === 0,
  );

  return {
    'diff.endpointAddAffectedNodes': endpointAdd.affected,
    'diff.endpointAddBytesPerNode': endpointAdd.bytesPerNode,
    'diff.endpointAddMaxBytes': endpointAdd.maxBytes,
    'diff.endpointAddAllNodesMs': Math.round(endpointAdd.ms),
    'diff.serviceAddAffectedNodes': serviceAdd.affected,
    'diff.serviceAddBytesPerNode': serviceAdd.bytesPerNode,
    'diff.serviceAddMaxBytes': serviceAdd.maxBytes,
    'diff.nodeJoinAffectedNodes': nodeJoin.affected,
    'diff.nodeJoinBytesPerNode': nodeJoin.bytesPerNode,
    'diff.nodeJoinOneRouteNeighbourFdbEach': exactlyOneEach ? 1 : 0,
  };
}
