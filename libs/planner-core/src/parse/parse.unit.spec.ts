import { describe, expect, it } from 'vitest';
import { DEFAULT_PROXY_CONFIG, nodeState } from '@netledger/model';
import { NetworkPlanner, nodeStateOf } from '../network-planner';
import { renderStateRestore } from '../render/iptables';
import { nodeStatesEqual } from '../state/diff';
import { canonicalRule } from './canonical-rule';
import { parseBridgeFdb, parseIpNeighbours, parseIpRoutes, parseVxlanDevice } from './host-json';
import { isNetledgerChain, ownedIptables, ownsChain, parseIptablesSave } from './iptables-save';
import { node, service, slice } from '../../../../test/support/kube';

describe('reading the host back', () => {
  it('round trip: full state -> iptables-restore text -> parse -> the same chains', () => {
    const p = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] });
    p.upsert(node('node-a', '192.168.56.11', '10.244.1.0/24'));
    p.upsert(
      service('default', 'web', {
        type: 'LoadBalancer',
        clusterIP: '10.96.0.10',
        ports: [{ name: 'p80', port: 80, nodePort: 30080 }],
        ingress: ['198.18.0.9'],
        loadBalancerSourceRanges: ['203.0.113.0/24'],
        sessionAffinity: 'ClientIP',
      }),
    );
    p.upsert(
      slice(
        'default',
        'web-1',
        'web',
        [{ name: 'p80', port: 8080 }],
        [{ ip: '10.244.1.5', node: 'node-a' }, { ip: '10.244.2.5' }],
      ),
    );
    const state = nodeStateOf(p.planNode('node-a'));
    const parsed = ownedIptables(parseIptablesSave(renderStateRestore(state)), (c) => ownsChain(state, c));
    const reread = nodeState({ chains: parsed.chains });
    expect(nodeStatesEqual(reread, nodeState({ chains: state.chains.values() }))).toBe(true);
  });

  it('canonicalises rules into what iptables-save 1.8 prints (taken from a real iptables-save)', () => {
    const pairs: [string, string][] = [
      [
        '-m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 -j KUBE-SVC-X',
        '-d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-SVC-X',
      ],
      [
        '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-SVC-X',
        '! -d 127.0.0.0/8 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-SVC-X',
      ],
      ['-j MARK --or-mark 0x4000', '-j MARK --set-xmark 0x4000/0x4000'],
      ['-j MARK --xor-mark 0x4000', '-j MARK --set-xmark 0x4000/0x0'],
      [
        '-m comment --comment "ns1/svc1:p80 cluster IP" -m tcp -p tcp -d 172.30.0.41 --dport 80 ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ',
        '! -s 10.0.0.0/8 -d 172.30.0.41/32 -p tcp -m comment --comment "ns1/svc1:p80 cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ',
      ],
      [
        '-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m recent --name KUBE-SEP-A --rcheck --seconds 10800 --reap -j KUBE-SEP-A',
        '-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m recent --rcheck --seconds 10800 --reap --name KUBE-SEP-A --mask 255.255.255.255 --rsource -j KUBE-SEP-A',
      ],
      [
        '-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-A',
        '-m comment --comment "ns1/svc1:p80 -> 10.180.0.1:80" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-A',
      ],
      [
        '-m comment --comment ns1/svc1:p80 -s 10.180.0.1 -j KUBE-MARK-MASQ',
        '-s 10.180.0.1/32 -m comment --comment "ns1/svc1:p80" -j KUBE-MARK-MASQ',
      ],
      [
        '-m comment --comment ns1/svc1:p80 -m recent --name KUBE-SEP-A --set -m tcp -p tcp -j DNAT --to-destination 10.180.0.1:80',
        '-p tcp -m comment --comment "ns1/svc1:p80" -m recent --set --name KUBE-SEP-A --mask 255.255.255.255 --rsource -m tcp -j DNAT --to-destination 10.180.0.1:80',
      ],
      [
        '-m comment --comment "ns4/svc4:p80 has no endpoints" -m tcp -p tcp -d 172.30.0.44 --dport 80 -j REJECT',
        '-d 172.30.0.44/32 -p tcp -m comment --comment "ns4/svc4:p80 has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable',
      ],
      [
        '-m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
        '! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
      ],
      [
        '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
        '-m conntrack --ctstate NEW -m comment --comment "kubernetes externally-visible service portals" -j KUBE-EXTERNAL-SERVICES',
      ],
    ];
    for (const [ours, saved] of pairs) expect(canonicalRule(ours)).toBe(saved);
  });

  it('parses iptables-save output: policies, counters and comments ignored, built-in jumps found', () => {
    const text = [
      '# Generated by iptables-save v1.8.9 (nf_tables)',
      '*filter',
      ':INPUT ACCEPT [12:345]',
      ':KUBE-FIREWALL - [0:0]',
      ':OTHER - [0:0]',
      '-A INPUT -j KUBE-FIREWALL',
      '-A INPUT -j OTHER',
      '-A KUBE-FIREWALL -j DROP',
      'COMMIT',
    ].join('\n');
    // KUBE-FIREWALL is Netledger's only where its desired state holds it (kubelet makes one too).
    expect(ownedIptables(parseIptablesSave(text), isNetledgerChain)).toEqual({ chains: [], jumps: [] });
    const owned = ownedIptables(parseIptablesSave(text), (c) => isNetledgerChain(c) || c === 'KUBE-FIREWALL');
    expect(owned.chains).toEqual([{ table: 'filter', chain: 'KUBE-FIREWALL', rules: ['-j DROP'] }]);
    expect(owned.jumps).toEqual([{ table: 'filter', chain: 'INPUT', rule: '-j KUBE-FIREWALL' }]);
    expect(() => parseIptablesSave('*nat\n-Z bogus\nCOMMIT')).toThrow(
      /line 2: not a rule, chain or table line/,
    );
    expect(() => parseIptablesSave('*nat\n:X - [0:0]')).toThrow(/has no COMMIT/);
  });

  it('parses ip and bridge JSON as iproute2 6.1 prints it', () => {
    expect(
      parseIpRoutes([
        { dst: '10.244.2.0/24', gateway: '10.244.2.0', dev: 'flannel.1', flags: ['onlink'] },
        { dst: 'default', gateway: '192.168.0.1', dev: 'eth0', flags: [] },
      ]),
    ).toEqual([{ dst: '10.244.2.0/24', via: '10.244.2.0', dev: 'flannel.1', onlink: true }]);
    expect(
      parseIpNeighbours(
        [
          { dst: '10.244.2.0', lladdr: '0A:58:0a:f4:02:00', state: ['PERMANENT'] },
          { dst: '10.0.0.9', lladdr: '0a:58:0a:f4:02:01', state: ['REACHABLE'] },
        ],
        'flannel.1',
      ),
    ).toEqual([{ dev: 'flannel.1', ip: '10.244.2.0', lladdr: '0a:58:0a:f4:02:00' }]);
    expect(
      parseBridgeFdb(
        [
          { mac: '0a:58:0a:f4:02:00', dst: '192.168.56.12', flags: ['self'], state: 'permanent' },
          { mac: '00:00:00:00:00:00', dst: '192.168.56.99', flags: ['self'], state: 'permanent' },
        ],
        'flannel.1',
      ),
    ).toEqual([{ dev: 'flannel.1', mac: '0a:58:0a:f4:02:00', dst: '192.168.56.12' }]);
    const link = [
      {
        ifname: 'flannel.1',
        mtu: 1450,
        address: '0a:58:0a:f4:01:00',
        linkinfo: {
          info_kind: 'vxlan',
          info_data: { id: 1, local: '192.168.56.11', port: 8472, learning: false },
        },
      },
    ];
    const addr = [
      {
        addr_info: [
          { family: 'inet', local: '10.244.1.0', prefixlen: 32 },
          { family: 'inet6', local: 'fe80::1', prefixlen: 64 },
        ],
      },
    ];
    expect(parseVxlanDevice(link, addr)).toEqual({
      name: 'flannel.1',
      vni: 1,
      port: 8472,
      localIp: '192.168.56.11',
      mac: '0a:58:0a:f4:01:00',
      mtu: 1450,
      address: '10.244.1.0/32',
      learning: false,
      gbp: false,
    });
    expect(() => parseIpRoutes({})).toThrow(/expected a JSON array/);
  });
});
