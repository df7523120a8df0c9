import { describe, expect, it } from 'vitest';
import {
  categorizeEndpoints,
  clusterEndpointsOf,
  topologyHintsOf,
  topologyModeAt,
  topologyModeOf,
} from './categorize';
import { DEFAULT_PROXY_CONFIG } from '@netledger/model';
import { syntheticCluster } from '../../../../test/support/synthetic-cluster';
import type { EndpointInfo } from './endpoints';
import { KubeProxyPlanner } from './kube-proxy-planner';
import type { ServicePortInfo } from './service-port';

/*
 * Topology-aware routing, case by case from upstream's TestCategorizeEndpoints
 * (k8s.io/kubernetes v1.37.2, pkg/proxy/topology_test.go); the differential test
 * (test/reference) holds the same code to kube-proxy's on random clusters.
 */

interface EpSpec {
  ip: string;
  zones?: string[];
  nodes?: string[];
  ready?: boolean;
  local?: boolean;
}

const NODE = 'node-1';

function ep(s: EpSpec): EndpointInfo {
  return {
    ip: s.ip,
    port: 80,
    hostPort: `${s.ip}:80`,
    nodeName: s.local ? NODE : 'elsewhere',
    ready: s.ready ?? true,
    serving: s.ready ?? true,
    terminating: false,
    zoneHints: s.zones ? new Set(s.zones) : null,
    nodeHints: s.nodes ? new Set(s.nodes) : null,
  };
}

function port(policy: { internalLocal?: boolean; externalLocal?: boolean; nodePort?: number } = {}) {
  return {
    internalPolicyLocal: policy.internalLocal ?? false,
    externalPolicyLocal: policy.externalLocal ?? false,
    nodePort: policy.nodePort ?? 0,
    externalIPs: [],
    loadBalancerVIPs: [],
  } as unknown as ServicePortInfo;
}

function categorize(sp: ServicePortInfo, specs: EpSpec[], zone: string, nodeName = NODE) {
  const endpoints = specs.map(ep).sort((a, b) => (a.hostPort < b.hostPort ? -1 : 1));
  const at = { nodeName, zone };
  // The planner's fast check agrees with the full pass over endpoints.
  expect(topologyModeAt(topologyHintsOf(endpoints), at)).toBe(topologyModeOf(endpoints, at));
  const c = categorizeEndpoints(sp, endpoints, clusterEndpointsOf(endpoints), nodeName, at);
  const ips = (list: readonly EndpointInfo[]) => list.map((e) => e.ip).sort();
  return { cluster: ips(c.cluster), local: ips(c.local), all: ips(c.allReachable) };
}

const fourZoned = (zoneOfLast = 'zone-a'): EpSpec[] => [
  { ip: '10.1.2.3', zones: ['zone-a'] },
  { ip: '10.1.2.4', zones: ['zone-b'] },
  { ip: '10.1.2.5', zones: ['zone-c'] },
  { ip: '10.1.2.6', zones: [zoneOfLast] },
];

describe('topology hints (upstream TestCategorizeEndpoints)', () => {
  it("uses topology when all endpoints have hints and some are for the node's zone", () => {
    expect(categorize(port(), fourZoned(), 'zone-a').cluster).toEqual(['10.1.2.3', '10.1.2.6']);
  });

  it('ignores topology for Local endpoints, and merges them into what the node reaches', () => {
    const specs = fourZoned().map((s, i) => ({ ...s, local: i < 2 }));
    for (const sp of [
      port({ externalLocal: true, nodePort: 8080 }),
      port({ internalLocal: true, nodePort: 8080 }),
    ]) {
      expect(categorize(sp, specs, 'zone-a')).toEqual({
        cluster: ['10.1.2.3', '10.1.2.6'],
        local: ['10.1.2.3', '10.1.2.4'],
        all: ['10.1.2.3', '10.1.2.4', '10.1.2.6'],
      });
    }
  });

  it('does not filter without a zone label, or in a zone no hint names', () => {
    const one = [{ ip: '10.1.2.3', zones: ['zone-a'] }];
    expect(categorize(port(), one, '').cluster).toEqual(['10.1.2.3']);
    expect(categorize(port(), one, 'zone-b').cluster).toEqual(['10.1.2.3']);
  });

  it('leaves unready endpoints out, and does not filter when only unready ones are in the zone', () => {
    const specs = fourZoned();
    specs[3] = { ...specs[3]!, ready: false };
    expect(categorize(port(), specs, 'zone-a').cluster).toEqual(['10.1.2.3']);
    specs[0] = { ...specs[0]!, ready: false };
    expect(categorize(port(), specs, 'zone-a').cluster).toEqual(['10.1.2.4', '10.1.2.5']);
  });

  it('does not filter when an endpoint is missing its hint', () => {
    const specs: EpSpec[] = fourZoned();
    specs[2] = { ip: '10.1.2.5' };
    expect(categorize(port(), specs, 'zone-a').cluster).toEqual([
      '10.1.2.3',
      '10.1.2.4',
      '10.1.2.5',
      '10.1.2.6',
    ]);
  });

  it('takes any endpoint whose hints include the zone', () => {
    const specs: EpSpec[] = [
      { ip: '10.1.2.3', zones: ['zone-a', 'zone-b', 'zone-c'] },
      { ip: '10.1.2.4', zones: ['zone-b', 'zone-c'] },
      { ip: '10.1.2.5', zones: ['zone-b', 'zone-d'] },
      { ip: '10.1.2.6', zones: ['zone-c'] },
    ];
    expect(categorize(port(), specs, 'zone-c').cluster).toEqual(['10.1.2.3', '10.1.2.4', '10.1.2.6']);
  });

  it('prefers the same node, ignores node hints unless all have them, falls back to the zone', () => {
    const specs: EpSpec[] = fourZoned().map((s, i) => ({ ...s, nodes: [`node-${i + 1}`] }));
    expect(categorize(port(), specs, 'zone-a').cluster).toEqual(['10.1.2.3']);
    expect(categorize(port(), specs, 'zone-a', 'node-0').cluster).toEqual(['10.1.2.3', '10.1.2.6']);
    const unhinted = specs.map((s, i) => (i === 1 ? { ip: s.ip } : s));
    expect(categorize(port(), unhinted, 'zone-a').cluster).toEqual([
      '10.1.2.3',
      '10.1.2.4',
      '10.1.2.5',
      '10.1.2.6',
    ]);
  });

  it('merges conflicting topology and localness', () => {
    const specs: EpSpec[] = [
      { ip: '10.0.0.0', zones: ['zone-a'], local: true },
      { ip: '10.0.0.1', zones: ['zone-b'], local: true },
      { ip: '10.0.0.2', zones: ['zone-a'] },
      { ip: '10.0.0.3', zones: ['zone-b'] },
    ];
    expect(categorize(port({ externalLocal: true, nodePort: 8080 }), specs, 'zone-a')).toEqual({
      cluster: ['10.0.0.0', '10.0.0.2'],
      local: ['10.0.0.0', '10.0.0.1'],
      all: ['10.0.0.0', '10.0.0.1', '10.0.0.2'],
    });
  });
});

describe('zone hints and sharing', () => {
  it('nodes of one zone share one service table and hold no override for zone-hinted ports', () => {
    const cluster = syntheticCluster({ nodes: 30, services: 40, endpointsPerService: 4, seed: 7, zones: 3 });
    const planner = new KubeProxyPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.64.0.0/10'] });
    for (const o of [...cluster.nodes, ...cluster.services, ...cluster.slices]) planner.upsert(o);
    const plans = cluster.nodes.map((n) => planner.planNode(n.name));
    const tables = new Set(plans.map((p) => p.services));
    expect(tables.size).toBe(3);
    // Overrides only where the node's own endpoints (Local policies) make its fragment differ.
    const overridden = plans.reduce((n, p) => n + p.overrides.size, 0);
    const localPorts = cluster.services.filter((s) => s.externalTrafficPolicy === 'Local').length;
    expect(overridden).toBeLessThanOrEqual(localPorts * 4);
  });
});
