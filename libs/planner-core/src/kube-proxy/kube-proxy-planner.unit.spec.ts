import { describe, expect, it } from 'vitest';
import { DEFAULT_PROXY_CONFIG, type HostFacts, type ProxyConfig } from '@netledger/model';
import { renderRestore } from '../iptables/render-restore';
import { KubeProxyPlanner } from './kube-proxy-planner';
import { kubeProxyTables } from './tables';
import { node, service, slice } from '../../../../test/support/kube';

/*
 * Golden tests: the expected text is what kube-proxy's iptables proxier (pkg/proxy/iptables,
 * Kubernetes v1.37) writes for the same input, chains grouped the way upstream's test helper
 * sortIPTablesRules groups them. Each test names the upstream behaviour it pins.
 */

const config: ProxyConfig = { ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.0.0.0/8'] };
const plainHost: HostFacts = {
  interfaceAddresses: ['127.0.0.1/8', '192.168.0.2/24'],
  randomFully: false,
  nfacctCounters: [],
  conntrackTcpBeLiberal: false,
  underlayMtu: 1500,
};

function planner(cfg: ProxyConfig = config): KubeProxyPlanner {
  const p = new KubeProxyPlanner(cfg);
  p.upsert(node('node1', '192.168.0.2', '10.244.1.0/24'));
  p.upsert(node('node2', '192.168.0.3', '10.244.2.0/24'));
  p.setHostFacts('node1', plainHost);
  p.setHostFacts('node2', { ...plainHost, interfaceAddresses: ['127.0.0.1/8', '192.168.0.3/24'] });
  return p;
}

const restore = (p: KubeProxyPlanner, n = 'node1') => {
  const t = kubeProxyTables(p.planNode(n));
  return renderRestore([t.filter, t.nat]);
};

/** The rules of one chain, as `-A CHAIN ...` lines. */
function chain(p: KubeProxyPlanner, table: 'filter' | 'nat', name: string, n = 'node1'): string[] {
  const t = kubeProxyTables(p.planNode(n))[table];
  const c = t.chains.find((x) => x.name === name);
  return c ? c.rules.map((r) => `-A ${name} ${r}`) : [];
}

const chainNames = (p: KubeProxyPlanner, table: 'filter' | 'nat', n = 'node1') =>
  kubeProxyTables(p.planNode(n))[table].chains.map((c) => c.name);

const lines = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => l.trim());

describe('kube-proxy iptables rules', () => {
  it('ClusterIP: VIP capture, masquerade of off-cluster sources, spread over endpoints, hairpin SNAT (TestOverallIPTablesRules ns1/svc1)', () => {
    const p = planner();
    p.upsert(service('ns1', 'svc1', { clusterIP: '172.30.0.41' }));
    p.upsert(
      slice('ns1', 'svc1-abc', 'svc1', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.1', node: 'node2' }]),
    );
    expect(restore(p)).toBe(
      lines(`
        *filter
        :KUBE-SERVICES - [0:0]
        :KUBE-EXTERNAL-SERVICES - [0:0]
        :KUBE-FORWARD - [0:0]
        :KUBE-NODEPORTS - [0:0]
        :KUBE-PROXY-FIREWALL - [0:0]
        :KUBE-FIREWALL - [0:0]
        -A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP
        -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
        -A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
        -A KUBE-FIREWALL -m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
        COMMIT
        *nat
        :KUBE-SERVICES - [0:0]
        :KUBE-NODEPORTS - [0:0]
        :KUBE-POSTROUTING - [0:0]
        :KUBE-MARK-MASQ - [0:0]
        :KUBE-SVC-XPGD46QRK7WJZT7O - [0:0]
        :KUBE-SEP-SXIVWICOYRO3J4NJ - [0:0]
        -A KUBE-SERVICES -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-XPGD46QRK7WJZT7O
        -A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
        -A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
        -A KUBE-POSTROUTING -j MARK --xor-mark 0x4000
        -A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
        -A KUBE-MARK-MASQ -j MARK --or-mark 0x4000
        -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ
        -A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ
        -A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ
        -A KUBE-SEP-SXIVWICOYRO3J4NJ -m comment --comment ns1/svc1:p80 -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80
        COMMIT
      `).join('\n') + '\n',
    );
  });

  it('spreads over n endpoints with probabilities 1/n, 1/(n-1), ... in ip:port string order (writeServiceToEndpointRules)', () => {
    const p = planner();
    p.upsert(service('ns1', 'svc1', {}));
    p.upsert(
      slice(
        'ns1',
        'svc1-a',
        'svc1',
        [{ name: 'p80', port: 80 }],
        [{ ip: '10.180.0.2' }, { ip: '10.180.0.10' }, { ip: '10.180.0.3' }],
      ),
    );
    const svc = chain(p, 'nat', 'KUBE-SVC-XPGD46QRK7WJZT7O');
    expect(svc.slice(1).map((r) => /-> ([\d.:]+)"(.*?)-j/.exec(r)!.slice(1).join('').trim())).toEqual([
      '10.180.0.10:80 -m statistic --mode random --probability 0.3333333333',
      '10.180.0.2:80 -m statistic --mode random --probability 0.5000000000',
      '10.180.0.3:80',
    ]);
  });

  it('NodePort: KUBE-NODEPORTS to KUBE-EXT, which masquerades (Cluster policy), and the KUBE-SERVICES tail for local destinations', () => {
    const p = planner();
    p.upsert(
      service('ns2', 'svc2', {
        type: 'NodePort',
        clusterIP: '172.30.0.42',
        ports: [{ name: 'p80', port: 80, nodePort: 3001 }],
      }),
    );
    p.upsert(
      slice('ns2', 'svc2-a', 'svc2', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.2', node: 'node2' }]),
    );
    expect(chain(p, 'nat', 'KUBE-NODEPORTS')).toEqual([
      '-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT',
    ]);
    expect(chain(p, 'nat', 'KUBE-EXT-GNZBNJ2PO5MGZ6GT')).toEqual([
      '-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -m comment --comment "masquerade traffic for ns2/svc2:p80 external destinations" -j KUBE-MARK-MASQ',
      '-A KUBE-EXT-GNZBNJ2PO5MGZ6GT -j KUBE-SVC-GNZBNJ2PO5MGZ6GT',
    ]);
    expect(chain(p, 'nat', 'KUBE-SERVICES').at(-1)).toBe(
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS',
    );
  });

  it('NodePort with localhost NodePorts off: the tail excludes 127.0.0.0/8 and KUBE-FIREWALL is not written', () => {
    const p = planner({ ...config, localhostNodePorts: false });
    expect(chain(p, 'nat', 'KUBE-SERVICES')).toEqual([
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS',
    ]);
    expect(chainNames(p, 'filter')).not.toContain('KUBE-FIREWALL');
    expect(kubeProxyTables(p.planNode('node1')).jumps.map((j) => j.rule)).not.toContain('-j KUBE-FIREWALL');
  });

  it('nodePortAddresses: one tail rule per matching host address, sorted; loopback only with localhost NodePorts', () => {
    const p = planner({ ...config, nodePortAddresses: ['192.168.0.0/16', '127.0.0.0/8'] });
    p.setHostFacts('node1', {
      ...plainHost,
      interfaceAddresses: ['127.0.0.1/8', '192.168.0.2/24', '192.168.1.9/24', '10.1.1.1/16'],
    });
    const tail =
      '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain"';
    expect(chain(p, 'nat', 'KUBE-SERVICES')).toEqual([
      `${tail} -d 127.0.0.1 -j KUBE-NODEPORTS`,
      `${tail} -d 192.168.0.2 -j KUBE-NODEPORTS`,
      `${tail} -d 192.168.1.9 -j KUBE-NODEPORTS`,
    ]);
    const q = planner({ ...config, nodePortAddresses: ['192.168.0.0/16'] });
    expect(chain(q, 'nat', 'KUBE-SERVICES')).toEqual([`${tail} -d 192.168.0.2 -j KUBE-NODEPORTS`]);
    // nodePortAddresses without loopback turn localhost NodePorts off.
    expect(chainNames(q, 'filter')).not.toContain('KUBE-FIREWALL');
    const primary = planner({ ...config, nodePortAddresses: ['primary'] });
    expect(chain(primary, 'nat', 'KUBE-SERVICES', 'node2')).toEqual([
      `${tail} -d 192.168.0.3 -j KUBE-NODEPORTS`,
    ]);
  });

  it('nfacct counters are written only when the host has them; --random-fully always from v1.37, before only where iptables has it', () => {
    const p = planner();
    p.setHostFacts('node1', {
      ...plainHost,
      randomFully: true,
      nfacctCounters: ['ct_state_invalid_dropped_pkts', 'localhost_nps_accepted_pkts'],
    });
    p.upsert(
      service('ns2', 'svc2', {
        type: 'NodePort',
        clusterIP: '172.30.0.42',
        ports: [{ name: 'p80', port: 80, nodePort: 3001 }],
      }),
    );
    p.upsert(slice('ns2', 'svc2-a', 'svc2', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.2' }]));
    expect(chain(p, 'filter', 'KUBE-FORWARD')[0]).toBe(
      '-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP',
    );
    expect(chain(p, 'nat', 'KUBE-NODEPORTS')).toEqual([
      '-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp -d 127.0.0.0/8 --dport 3001 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-EXT-GNZBNJ2PO5MGZ6GT',
      '-A KUBE-NODEPORTS -m comment --comment ns2/svc2:p80 -m tcp -p tcp --dport 3001 -j KUBE-EXT-GNZBNJ2PO5MGZ6GT',
    ]);
    expect(chain(p, 'nat', 'KUBE-POSTROUTING')[2]).toBe(
      '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
    );
    // node2 reported neither: same service, plain rules.
    expect(chain(p, 'nat', 'KUBE-NODEPORTS', 'node2')).toHaveLength(1);
    expect(chain(p, 'nat', 'KUBE-POSTROUTING', 'node2')[2]).toMatch(/MASQUERADE --random-fully$/);
    p.setProxyConfig({ ...config, release: 'v1.36' });
    expect(chain(p, 'nat', 'KUBE-POSTROUTING', 'node2')[2]).toMatch(/MASQUERADE$/);
    expect(chain(p, 'nat', 'KUBE-POSTROUTING', 'node1')[2]).toMatch(/MASQUERADE --random-fully$/);
  });

  it('nf_conntrack_tcp_be_liberal: no INVALID drop rule', () => {
    const p = planner();
    p.setHostFacts('node1', { ...plainHost, conntrackTcpBeLiberal: true });
    expect(chain(p, 'filter', 'KUBE-FORWARD')).toHaveLength(2);
  });

  it('externalIPs: captured to KUBE-EXT; rejected in KUBE-EXTERNAL-SERVICES when there are no endpoints', () => {
    const p = planner();
    p.upsert(service('ns3', 'svc3', { clusterIP: '172.30.0.43', externalIPs: ['192.168.99.11'] }));
    p.upsert(slice('ns3', 'svc3-a', 'svc3', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.3' }]));
    expect(chain(p, 'nat', 'KUBE-SERVICES').slice(0, 2)).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 cluster IP" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j KUBE-SVC-X27LE4BHSL4DOUIK',
      '-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 external IP" -m tcp -p tcp -d 192.168.99.11 --dport 80 -j KUBE-EXT-X27LE4BHSL4DOUIK',
    ]);
    p.remove('EndpointSlice', 'ns3', 'svc3-a');
    expect(chain(p, 'filter', 'KUBE-SERVICES')).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ns3/svc3:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.43 --dport 80 -j REJECT',
    ]);
    expect(chain(p, 'filter', 'KUBE-EXTERNAL-SERVICES')).toEqual([
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns3/svc3:p80 has no endpoints" -m tcp -p tcp -d 192.168.99.11 --dport 80 -j REJECT',
    ]);
    expect(chainNames(p, 'nat').filter((c) => c.includes('X27LE4BHSL4DOUIK'))).toEqual([]);
  });

  it('a service without endpoints: REJECT for its cluster IP, LB IPs and NodePort, no nat chains (hasEndpoints false)', () => {
    const p = planner();
    p.upsert(
      service('ns4', 'svc4', {
        type: 'LoadBalancer',
        clusterIP: '172.30.0.44',
        ports: [{ name: 'p80', port: 80, nodePort: 3004 }],
        ingress: ['1.2.3.4'],
      }),
    );
    expect(chain(p, 'filter', 'KUBE-SERVICES')).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ns4/svc4:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j REJECT',
    ]);
    expect(chain(p, 'filter', 'KUBE-EXTERNAL-SERVICES')).toEqual([
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns4/svc4:p80 has no endpoints" -m tcp -p tcp -d 1.2.3.4 --dport 80 -j REJECT',
      '-A KUBE-EXTERNAL-SERVICES -m comment --comment "ns4/svc4:p80 has no endpoints" -m addrtype --dst-type LOCAL -m tcp -p tcp --dport 3004 -j REJECT',
    ]);
    expect(chain(p, 'nat', 'KUBE-NODEPORTS')).toEqual([]);
    expect(chainNames(p, 'nat')).toEqual([
      'KUBE-SERVICES',
      'KUBE-NODEPORTS',
      'KUBE-POSTROUTING',
      'KUBE-MARK-MASQ',
    ]);
  });

  it('LoadBalancer with loadBalancerSourceRanges: KUBE-FW chain, DROP of the rest in KUBE-PROXY-FIREWALL (TestLoadBalancer)', () => {
    const p = planner();
    p.upsert(
      service('ns5', 'svc5', {
        type: 'LoadBalancer',
        clusterIP: '172.30.0.45',
        ports: [{ name: 'p80', port: 80, nodePort: 3005 }],
        ingress: ['5.6.7.8'],
        loadBalancerSourceRanges: ['203.0.113.0/25', ' 1.2.3.4/28'],
      }),
    );
    p.upsert(slice('ns5', 'svc5-a', 'svc5', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.5' }]));
    const fw = chainNames(p, 'nat').find((c) => c.startsWith('KUBE-FW-'))!;
    const ext = fw.replace('KUBE-FW-', 'KUBE-EXT-');
    expect(chain(p, 'nat', 'KUBE-SERVICES')).toContain(
      `-A KUBE-SERVICES -m comment --comment "ns5/svc5:p80 loadbalancer IP" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j ${fw}`,
    );
    expect(chain(p, 'nat', fw)).toEqual([
      `-A ${fw} -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 203.0.113.0/25 -j ${ext}`,
      // Host bits are cleared, as Go's ParseCIDR does.
      `-A ${fw} -m comment --comment "ns5/svc5:p80 loadbalancer IP" -s 1.2.3.0/28 -j ${ext}`,
      `-A ${fw} -m comment --comment "other traffic to ns5/svc5:p80 will be dropped by KUBE-PROXY-FIREWALL"`,
    ]);
    expect(chain(p, 'filter', 'KUBE-PROXY-FIREWALL')).toEqual([
      `-A KUBE-PROXY-FIREWALL -m comment --comment "ns5/svc5:p80 traffic not accepted by ${fw}" -m tcp -p tcp -d 5.6.7.8 --dport 80 -j DROP`,
    ]);
  });

  it('LoadBalancer source ranges containing the node let the node reach its own VIP (allowFromNode)', () => {
    const p = planner();
    p.upsert(
      service('ns5', 'svc5', {
        type: 'LoadBalancer',
        clusterIP: '172.30.0.45',
        ports: [{ name: 'p80', port: 80, nodePort: 3005 }],
        ingress: ['5.6.7.8'],
        loadBalancerSourceRanges: ['192.168.0.2/32'],
      }),
    );
    p.upsert(slice('ns5', 'svc5-a', 'svc5', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.5' }]));
    const fw = chainNames(p, 'nat').find((c) => c.startsWith('KUBE-FW-'))!;
    expect(chain(p, 'nat', fw, 'node1')[1]).toContain('-s 5.6.7.8 -j KUBE-EXT-');
    expect(chain(p, 'nat', fw, 'node2')).toHaveLength(2);
  });

  it('a /0 source range means no firewall at all', () => {
    const p = planner();
    p.upsert(
      service('ns5', 'svc5', {
        type: 'LoadBalancer',
        clusterIP: '172.30.0.45',
        ports: [{ name: 'p80', port: 80, nodePort: 3005 }],
        ingress: ['5.6.7.8'],
        loadBalancerSourceRanges: ['0.0.0.0/0'],
      }),
    );
    p.upsert(slice('ns5', 'svc5-a', 'svc5', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.5' }]));
    expect(chainNames(p, 'nat').some((c) => c.startsWith('KUBE-FW-'))).toBe(false);
    expect(chain(p, 'filter', 'KUBE-PROXY-FIREWALL')).toEqual([]);
  });

  it('sessionAffinity ClientIP: recent checks before the spread, recent --set in each SEP, with the timeout', () => {
    const p = planner();
    p.upsert(
      service('ns6', 'svc6', { clusterIP: '172.30.0.46', sessionAffinity: 'ClientIP', timeoutSeconds: 300 }),
    );
    p.upsert(
      slice(
        'ns6',
        'svc6-a',
        'svc6',
        [{ name: 'p80', port: 80 }],
        [{ ip: '10.180.0.6' }, { ip: '10.180.0.7' }],
      ),
    );
    const svc = chainNames(p, 'nat').find((c) => c.startsWith('KUBE-SVC-'))!;
    const [sep6, sep7] = chainNames(p, 'nat').filter((c) => c.startsWith('KUBE-SEP-'));
    expect(chain(p, 'nat', svc).slice(1)).toEqual([
      `-A ${svc} -m comment --comment "ns6/svc6:p80 -> 10.180.0.6:80" -m recent --name ${sep6} --rcheck --seconds 300 --reap -j ${sep6}`,
      `-A ${svc} -m comment --comment "ns6/svc6:p80 -> 10.180.0.7:80" -m recent --name ${sep7} --rcheck --seconds 300 --reap -j ${sep7}`,
      `-A ${svc} -m comment --comment "ns6/svc6:p80 -> 10.180.0.6:80" -m statistic --mode random --probability 0.5000000000 -j ${sep6}`,
      `-A ${svc} -m comment --comment "ns6/svc6:p80 -> 10.180.0.7:80" -j ${sep7}`,
    ]);
    expect(chain(p, 'nat', sep6!)[1]).toBe(
      `-A ${sep6} -m comment --comment ns6/svc6:p80 -m recent --name ${sep6} --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.6:80`,
    );
  });

  it('masqueradeAll: every cluster IP packet is marked, with no local-traffic match', () => {
    const p = planner({ ...config, masqueradeAll: true });
    p.upsert(service('ns1', 'svc1', {}));
    p.upsert(slice('ns1', 'svc1-a', 'svc1', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.1' }]));
    expect(chain(p, 'nat', 'KUBE-SVC-XPGD46QRK7WJZT7O')[0]).toBe(
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-MARK-MASQ',
    );
  });

  it('without a cluster CIDR, local traffic cannot be detected: no masquerade rule for the cluster IP', () => {
    const p = planner({ ...config, clusterCIDRs: [] });
    p.upsert(service('ns1', 'svc1', {}));
    p.upsert(slice('ns1', 'svc1-a', 'svc1', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.1' }]));
    expect(chain(p, 'nat', 'KUBE-SVC-XPGD46QRK7WJZT7O')).toEqual([
      '-A KUBE-SVC-XPGD46QRK7WJZT7O -m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -j KUBE-SEP-SXIVWICOYRO3J4NJ',
    ]);
  });

  it('detectLocalMode NodeCIDR: local traffic is the node pod CIDR', () => {
    const p = planner({ ...config, detectLocalMode: 'NodeCIDR' });
    p.upsert(service('ns1', 'svc1', {}));
    p.upsert(slice('ns1', 'svc1-a', 'svc1', [{ name: 'p80', port: 80 }], [{ ip: '10.180.0.1' }]));
    expect(chain(p, 'nat', 'KUBE-SVC-XPGD46QRK7WJZT7O', 'node1')[0]).toContain(
      '! -s 10.244.1.0/24 -j KUBE-MARK-MASQ',
    );
    expect(chain(p, 'nat', 'KUBE-SVC-XPGD46QRK7WJZT7O', 'node2')[0]).toContain(
      '! -s 10.244.2.0/24 -j KUBE-MARK-MASQ',
    );
  });

  it('multiple ports, unnamed and named, TCP/UDP/SCTP: one chain set per service port, hashed from name and protocol', () => {
    const p = planner();
    p.upsert(
      service('ns7', 'svc7', {
        clusterIP: '172.30.0.47',
        ports: [
          { name: 'dns', port: 53, protocol: 'UDP' },
          { name: 'dns-tcp', port: 53, protocol: 'TCP' },
          { name: 'sctp', port: 7777, protocol: 'SCTP' },
        ],
      }),
    );
    p.upsert(
      slice(
        'ns7',
        'svc7-a',
        'svc7',
        [
          { name: 'dns', port: 5353, protocol: 'UDP' },
          { name: 'dns-tcp', port: 5353, protocol: 'TCP' },
          { name: 'sctp', port: 7778, protocol: 'SCTP' },
        ],
        [{ ip: '10.180.0.9' }],
      ),
    );
    const services = chain(p, 'nat', 'KUBE-SERVICES');
    expect(services.slice(0, 3).map((r) => r.replace(/ -j KUBE-SVC-\w+$/, ''))).toEqual([
      '-A KUBE-SERVICES -m comment --comment "ns7/svc7:dns cluster IP" -m udp -p udp -d 172.30.0.47 --dport 53',
      '-A KUBE-SERVICES -m comment --comment "ns7/svc7:dns-tcp cluster IP" -m tcp -p tcp -d 172.30.0.47 --dport 53',
      '-A KUBE-SERVICES -m comment --comment "ns7/svc7:sctp cluster IP" -m sctp -p sctp -d 172.30.0.47 --dport 7777',
    ]);
    const dnats = chainNames(p, 'nat')
      .filter((c) => c.startsWith('KUBE-SEP-'))
      .map((c) => chain(p, 'nat', c)[1]!.replace(/^-A \S+ /, ''));
    expect(dnats).toEqual([
      '-m comment --comment ns7/svc7:dns -m udp -p udp -j DNAT --to-destination 10.180.0.9:5353',
      '-m comment --comment ns7/svc7:dns-tcp -m tcp -p tcp -j DNAT --to-destination 10.180.0.9:5353',
      '-m comment --comment ns7/svc7:sctp -m sctp -p sctp -j DNAT --to-destination 10.180.0.9:7778',
    ]);
  });

  it('an unnamed port is named by the service alone ("ns/svc"), and slice ports match by name and protocol', () => {
    const p = planner();
    p.upsert(service('ns8', 'svc8', { clusterIP: '172.30.0.48', ports: [{ port: 80 }] }));
    p.upsert(
      slice('ns8', 'svc8-a', 'svc8', [{ port: 8080 }, { name: 'other', port: 9090 }], [{ ip: '10.180.0.8' }]),
    );
    expect(chain(p, 'nat', 'KUBE-SERVICES')[0]).toMatch(
      /^-A KUBE-SERVICES -m comment --comment "ns8\/svc8 cluster IP" .* -j KUBE-SVC-/,
    );
    const sep = chainNames(p, 'nat').filter((c) => c.startsWith('KUBE-SEP-'));
    expect(sep).toHaveLength(1);
    expect(chain(p, 'nat', sep[0]!)[1]).toContain('--to-destination 10.180.0.8:8080');
  });

  it('ready endpoints only; with none ready, the serving terminating ones (fallback); else REJECT', () => {
    const p = planner();
    p.upsert(service('ns9', 'svc9', { clusterIP: '172.30.0.49' }));
    p.upsert(
      slice(
        'ns9',
        'svc9-a',
        'svc9',
        [{ name: 'p80', port: 80 }],
        [
          { ip: '10.180.0.1', ready: true },
          { ip: '10.180.0.2', ready: false, serving: true, terminating: true },
          { ip: '10.180.0.3', ready: false, serving: false, terminating: true },
          { ip: '10.180.0.4', ready: false },
        ],
      ),
    );
    const targets = () =>
      chainNames(p, 'nat')
        .filter((c) => c.startsWith('KUBE-SEP-'))
        .map((c) => /--to-destination (\S+)/.exec(chain(p, 'nat', c)[1]!)![1]);
    expect(targets()).toEqual(['10.180.0.1:80']);
    p.upsert(
      slice(
        'ns9',
        'svc9-a',
        'svc9',
        [{ name: 'p80', port: 80 }],
        [
          { ip: '10.180.0.2', ready: false, serving: true, terminating: true },
          { ip: '10.180.0.3', ready: false, serving: false, terminating: true },
        ],
      ),
    );
    expect(targets()).toEqual(['10.180.0.2:80']);
    p.upsert(
      slice(
        'ns9',
        'svc9-a',
        'svc9',
        [{ name: 'p80', port: 80 }],
        [{ ip: '10.180.0.3', ready: false, serving: false, terminating: true }],
      ),
    );
    expect(targets()).toEqual([]);
    expect(chain(p, 'filter', 'KUBE-SERVICES')[0]).toContain('"ns9/svc9:p80 has no endpoints"');
  });

  it('endpoints merged from several slices, an ip:port kept once', () => {
    const p = planner();
    p.upsert(service('ns1', 'svc1', {}));
    p.upsert(
      slice(
        'ns1',
        'svc1-a',
        'svc1',
        [{ name: 'p80', port: 80 }],
        [{ ip: '10.180.0.1' }, { ip: '10.180.0.2' }],
      ),
    );
    p.upsert(
      slice(
        'ns1',
        'svc1-b',
        'svc1',
        [{ name: 'p80', port: 80 }],
        [{ ip: '10.180.0.2' }, { ip: '10.180.0.3' }],
      ),
    );
    expect(chainNames(p, 'nat').filter((c) => c.startsWith('KUBE-SEP-'))).toHaveLength(3);
  });
});
