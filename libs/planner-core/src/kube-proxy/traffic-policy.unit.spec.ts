import { describe, expect, it } from 'vitest';
import { DEFAULT_PROXY_CONFIG, type HostFacts } from '@netledger/model';
import { renderRestore } from '../iptables/render-restore';
import { KubeProxyPlanner } from './kube-proxy-planner';
import { kubeProxyTables } from './tables';
import { node, service, slice } from '../../../../test/support/kube';

/*
 * Traffic policies, pinned with a Service from a real cluster: default/nginx, LoadBalancer,
 * clusterIP 172.17.45.122, 80/TCP on nodePort 30935, ingress 192.168.64.1 and 4.3.2.1, one
 * endpoint on node1 and one on node2. Chain names are kube-proxy's hashes of "default/nginx"+"tcp"
 * (checked against an independent sha256/base32).
 */

const SVC = 'KUBE-SVC-2CMXP7HKUVJN7L6M';
const SVL = 'KUBE-SVL-2CMXP7HKUVJN7L6M';
const EXT = 'KUBE-EXT-2CMXP7HKUVJN7L6M';
const SEP1 = 'KUBE-SEP-IZW656N5ZXYN5BEC'; // 10.244.1.5:80 on node1
const SEP2 = 'KUBE-SEP-66LGOVHJ4OIBFECU'; // 10.244.2.7:80 on node2
const host: HostFacts = {
  interfaceAddresses: ['127.0.0.1/8'],
  randomFully: true,
  nfacctCounters: [],
  conntrackTcpBeLiberal: false,
  underlayMtu: 1500,
};

function nginx(
  externalTrafficPolicy: 'Cluster' | 'Local',
  internalTrafficPolicy: 'Cluster' | 'Local' = 'Cluster',
) {
  const p = new KubeProxyPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] });
  for (const [name, ip] of [
    ['node1', '192.168.64.10'],
    ['node2', '192.168.64.11'],
    ['node3', '192.168.64.12'],
  ] as const) {
    p.upsert(node(name, ip));
    p.setHostFacts(name, host);
  }
  p.upsert(
    service('default', 'nginx', {
      type: 'LoadBalancer',
      clusterIP: '172.17.45.122',
      ports: [{ port: 80, nodePort: 30935 }],
      ingress: ['192.168.64.1', '4.3.2.1'],
      externalTrafficPolicy,
      internalTrafficPolicy,
      ...(externalTrafficPolicy === 'Local' ? { healthCheckNodePort: 31234 } : {}),
    }),
  );
  p.upsert(
    slice(
      'default',
      'nginx-x1',
      'nginx',
      [{ port: 80 }],
      [
        { ip: '10.244.1.5', node: 'node1' },
        { ip: '10.244.2.7', node: 'node2' },
      ],
    ),
  );
  return p;
}

const text = (p: KubeProxyPlanner, n: string) => {
  const t = kubeProxyTables(p.planNode(n));
  return renderRestore([t.filter, t.nat]);
};
const block = (s: string) =>
  s
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .join('\n') + '\n';

const FILTER_HEAD = `
  *filter
  :KUBE-SERVICES - [0:0]
  :KUBE-EXTERNAL-SERVICES - [0:0]
  :KUBE-FORWARD - [0:0]
  :KUBE-NODEPORTS - [0:0]
  :KUBE-PROXY-FIREWALL - [0:0]
  :KUBE-FIREWALL - [0:0]`;
const FORWARD = `
  -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
  -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
  -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`;
const FIREWALL = `
  -A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP`;
const NAT_FIXED = `
  -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
  -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
  -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
  -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000`;
const SERVICES = `
  -A KUBE-SERVICES -m comment --comment "default/nginx cluster IP" -m tcp -p tcp -d 172.17.45.122 --dport 80 -j ${SVC}
  -A KUBE-SERVICES -m comment --comment "default/nginx loadbalancer IP" -m tcp -p tcp -d 192.168.64.1 --dport 80 -j ${EXT}
  -A KUBE-SERVICES -m comment --comment "default/nginx loadbalancer IP" -m tcp -p tcp -d 4.3.2.1 --dport 80 -j ${EXT}
  -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
  -A KUBE-NODEPORTS -m comment --comment default/nginx -m tcp -p tcp --dport 30935 -j ${EXT}`;
const SEPS = `
  -A ${SEP1} -m comment --comment default/nginx -s 10.244.1.5 -j KUBE-MARK-MASQ
  -A ${SEP1} -m comment --comment default/nginx -m tcp -p tcp -j DNAT --to-destination 10.244.1.5:80
  -A ${SEP2} -m comment --comment default/nginx -s 10.244.2.7 -j KUBE-MARK-MASQ
  -A ${SEP2} -m comment --comment default/nginx -m tcp -p tcp -j DNAT --to-destination 10.244.2.7:80`;
const SVC_RULES = `
  -A ${SVC} -m comment --comment "default/nginx cluster IP" -m tcp -p tcp -d 172.17.45.122 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ
  -A ${SVC} -m comment --comment "default/nginx -> 10.244.1.5:80" -m statistic --mode random --probability 0.5000000000 -j ${SEP1}
  -A ${SVC} -m comment --comment "default/nginx -> 10.244.2.7:80" -j ${SEP2}`;

describe('externalTrafficPolicy and internalTrafficPolicy (default/nginx from a real cluster)', () => {
  it('Cluster: every node is the same, external traffic masqueraded and spread over both endpoints', () => {
    const p = nginx('Cluster');
    const expected = block(`${FILTER_HEAD}${FORWARD}${FIREWALL}
      COMMIT
      *nat
      :KUBE-SERVICES - [0:0]
      :KUBE-NODEPORTS - [0:0]
      :KUBE-POSTROUTING - [0:0]
      :KUBE-MARK-MASQ - [0:0]
      :${EXT} - [0:0]
      :${SVC} - [0:0]
      :${SEP1} - [0:0]
      :${SEP2} - [0:0]${SERVICES}${NAT_FIXED}
      -A ${EXT} -m comment --comment "masquerade traffic for default/nginx external destinations" -j KUBE-MARK-MASQ
      -A ${EXT} -j ${SVC}${SVC_RULES}${SEPS}
      COMMIT`);
    expect(text(p, 'node1')).toBe(expected);
    expect(text(p, 'node3')).toBe(expected);
  });

  it('Local, on a node with a local endpoint: external traffic goes to KUBE-SVL (only the local endpoint), pod and host traffic short-circuit to KUBE-SVC', () => {
    const p = nginx('Local');
    expect(text(p, 'node1')).toBe(
      block(`${FILTER_HEAD}${FORWARD}
        -A KUBE-NODEPORTS -m comment --comment "default/nginx health check node port" -m tcp -p tcp --dport 31234 -j ACCEPT${FIREWALL}
        COMMIT
        *nat
        :KUBE-SERVICES - [0:0]
        :KUBE-NODEPORTS - [0:0]
        :KUBE-POSTROUTING - [0:0]
        :KUBE-MARK-MASQ - [0:0]
        :${EXT} - [0:0]
        :${SVC} - [0:0]
        :${SVL} - [0:0]
        :${SEP1} - [0:0]
        :${SEP2} - [0:0]${SERVICES}${NAT_FIXED}
        -A ${EXT} -m comment --comment "pod traffic for default/nginx external destinations" -s 10.244.0.0/16 -j ${SVC}
        -A ${EXT} -m comment --comment "masquerade LOCAL traffic for default/nginx external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
        -A ${EXT} -m comment --comment "route LOCAL traffic for default/nginx external destinations" -m addrtype --src-type LOCAL -j ${SVC}
        -A ${EXT} -j ${SVL}${SVC_RULES}
        -A ${SVL} -m comment --comment "default/nginx -> 10.244.1.5:80" -j ${SEP1}${SEPS}
        COMMIT`),
    );
  });

  it('Local, on a node without a local endpoint: external traffic that is not short-circuited is dropped in the filter table', () => {
    const p = nginx('Local');
    expect(text(p, 'node3')).toBe(
      block(`${FILTER_HEAD}
        -A KUBE-EXTERNAL-SERVICES -m comment --comment "default/nginx has no local endpoints" -m tcp -p tcp -d 192.168.64.1 --dport 80 -j DROP
        -A KUBE-EXTERNAL-SERVICES -m comment --comment "default/nginx has no local endpoints" -m tcp -p tcp -d 4.3.2.1 --dport 80 -j DROP
        -A KUBE-EXTERNAL-SERVICES -m comment --comment "default/nginx has no local endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 30935 -j DROP${FORWARD}
        -A KUBE-NODEPORTS -m comment --comment "default/nginx health check node port" -m tcp -p tcp --dport 31234 -j ACCEPT${FIREWALL}
        COMMIT
        *nat
        :KUBE-SERVICES - [0:0]
        :KUBE-NODEPORTS - [0:0]
        :KUBE-POSTROUTING - [0:0]
        :KUBE-MARK-MASQ - [0:0]
        :${EXT} - [0:0]
        :${SVC} - [0:0]
        :${SEP1} - [0:0]
        :${SEP2} - [0:0]${SERVICES}${NAT_FIXED}
        -A ${EXT} -m comment --comment "pod traffic for default/nginx external destinations" -s 10.244.0.0/16 -j ${SVC}
        -A ${EXT} -m comment --comment "masquerade LOCAL traffic for default/nginx external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
        -A ${EXT} -m comment --comment "route LOCAL traffic for default/nginx external destinations" -m addrtype --src-type LOCAL -j ${SVC}${SVC_RULES}${SEPS}
        COMMIT`),
    );
  });

  it('Local: nodes without local endpoints share one fragment; node1 and node2 each get their own', () => {
    const p = nginx('Local');
    const [n1, n2, n3] = ['node1', 'node2', 'node3'].map((n) => p.planNode(n));
    expect(n3!.overrides.size).toBe(0);
    expect(n1!.overrides.size).toBe(1);
    expect(n2!.overrides.get('default/nginx')).not.toBe(n1!.overrides.get('default/nginx'));
    expect(n1!.services).toBe(n3!.services);
  });

  it('internalTrafficPolicy Local: the cluster IP goes to KUBE-SVL on nodes with endpoints and is dropped elsewhere', () => {
    const p = nginx('Cluster', 'Local');
    const rules = (n: string, table: 'filter' | 'nat', c: string) =>
      kubeProxyTables(p.planNode(n))[table].chains.find((x) => x.name === c)?.rules ?? [];
    expect(rules('node1', 'nat', 'KUBE-SERVICES')[0]).toBe(
      `-m comment --comment "default/nginx cluster IP" -m tcp -p tcp -d 172.17.45.122 --dport 80 -j ${SVL}`,
    );
    expect(rules('node1', 'nat', SVL)).toEqual([
      `-m comment --comment "default/nginx cluster IP" -m tcp -p tcp -d 172.17.45.122 --dport 80 ! -s 10.244.0.0/16 -j KUBE-MARK-MASQ`,
      `-m comment --comment "default/nginx -> 10.244.1.5:80" -j ${SEP1}`,
    ]);
    // External traffic still uses every endpoint (Cluster), so the cluster chain exists without the masquerade rule.
    expect(rules('node1', 'nat', SVC)).toHaveLength(2);
    expect(rules('node3', 'filter', 'KUBE-SERVICES')).toEqual([
      `-m comment --comment "default/nginx has no local endpoints" -m tcp -p tcp -d 172.17.45.122 --dport 80 -j DROP`,
    ]);
    expect(rules('node3', 'nat', 'KUBE-SERVICES')[0]).toContain('loadbalancer IP');
  });

  it('Local with only terminating local endpoints: the node falls back to them (and keeps every remote ready endpoint)', () => {
    const p = nginx('Local');
    p.upsert(
      slice(
        'default',
        'nginx-x1',
        'nginx',
        [{ port: 80 }],
        [
          { ip: '10.244.1.5', node: 'node1', ready: false, serving: true, terminating: true },
          { ip: '10.244.2.7', node: 'node2' },
        ],
      ),
    );
    const nat = kubeProxyTables(p.planNode('node1')).nat;
    expect(nat.chains.find((c) => c.name === SVL)!.rules).toEqual([
      `-m comment --comment "default/nginx -> 10.244.1.5:80" -j ${SEP1}`,
    ]);
    expect(nat.chains.find((c) => c.name === SVC)!.rules.slice(1)).toEqual([
      `-m comment --comment "default/nginx -> 10.244.2.7:80" -j ${SEP2}`,
    ]);
    expect(nat.chains.filter((c) => c.name.startsWith('KUBE-SEP-')).map((c) => c.name)).toEqual([SEP1, SEP2]);
  });

  it('the jumps from the built-in chains, in the order `iptables -I` leaves them', () => {
    const p = nginx('Cluster');
    const jumps = kubeProxyTables(p.planNode('node1')).jumps.map(
      (j) => `-t ${j.table} -A ${j.chain} ${j.rule}`,
    );
    expect(jumps).toEqual([
      '-t filter -A OUTPUT -j KUBE-FIREWALL',
      '-t filter -A INPUT -j KUBE-FIREWALL',
      '-t nat -A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
      '-t nat -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-t nat -A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-t filter -A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-t filter -A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-t filter -A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes load balancer firewall" -j KUBE-PROXY-FIREWALL',
      '-t filter -A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD',
      '-t filter -A OUTPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-t filter -A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
      '-t filter -A INPUT -m comment --comment "kubernetes health check service ports" -j KUBE-NODEPORTS',
      '-t filter -A FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
      '-t filter -A INPUT -m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
    ]);
  });

  it('large cluster mode (more than 1000 endpoints): endpoint rules lose their comments', () => {
    const p = nginx('Cluster');
    p.upsert(service('big', 'many', { clusterIP: '172.17.0.9' }));
    const eps = Array.from({ length: 1001 }, (_, i) => ({ ip: `10.245.${i >> 8}.${i & 255}` }));
    p.upsert(slice('big', 'many-a', 'many', [{ name: 'p80', port: 80 }], eps));
    const nat = kubeProxyTables(p.planNode('node1')).nat;
    expect(nat.chains.find((c) => c.name === SEP1)!.rules).toEqual([
      '-s 10.244.1.5 -j KUBE-MARK-MASQ',
      '-m tcp -p tcp -j DNAT --to-destination 10.244.1.5:80',
    ]);
    expect(nat.chains.find((c) => c.name === SVC)!.rules.slice(1)).toEqual([
      `-m statistic --mode random --probability 0.5000000000 -j ${SEP1}`,
      `-j ${SEP2}`,
    ]);
    p.remove('EndpointSlice', 'big', 'many-a');
    expect(kubeProxyTables(p.planNode('node1')).nat.chains.find((c) => c.name === SEP1)!.rules[0]).toBe(
      '-m comment --comment default/nginx -s 10.244.1.5 -j KUBE-MARK-MASQ',
    );
  });
});
