import { describe, expect, it } from 'vitest';
import { DEFAULT_PROXY_CONFIG } from '@netledger/model';
import { KubeProxyPlanner } from './kube-proxy-planner';
import { node, service, slice } from '../../../../test/support/kube';

/** kube-proxy's UDP conntrack cleanup (pkg/proxy/conntrack): what each endpoint change must forget. */
describe('conntrack deletions for UDP services', () => {
  const setup = () => {
    const p = new KubeProxyPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] });
    p.upsert(node('node-a', '192.168.0.2', '10.244.1.0/24'));
    p.upsert(
      service('kube-system', 'dns', {
        type: 'NodePort',
        clusterIP: '10.96.0.53',
        externalIPs: ['192.0.2.53'],
        ports: [{ name: 'dns', port: 53, protocol: 'UDP', nodePort: 30053 }],
      }),
    );
    p.takeChanges();
    return p;
  };
  const dnsSlice = (ips: string[]) =>
    slice(
      'kube-system',
      'dns-1',
      'dns',
      [{ name: 'dns', port: 5353, protocol: 'UDP' }],
      ips.map((ip) => ({ ip })),
    );

  it('a UDP service going from no endpoints to some: flows to its addresses and NodePort were black-holed', () => {
    const p = setup();
    p.upsert(dnsSlice(['10.244.1.5']));
    expect(p.takeChanges().conntrack).toEqual([
      { protocol: 'udp', origDst: '10.96.0.53', origPortDst: 53 },
      { protocol: 'udp', origDst: '192.0.2.53', origPortDst: 53 },
      { protocol: 'udp', origPortDst: 30053 },
    ]);
  });

  it('a UDP endpoint going away: flows it answered are forgotten', () => {
    const p = setup();
    p.upsert(dnsSlice(['10.244.1.5', '10.244.1.6']));
    p.takeChanges();
    p.upsert(dnsSlice(['10.244.1.6']));
    expect(p.takeChanges().conntrack).toEqual([
      { protocol: 'udp', origDst: '10.96.0.53', replySrc: '10.244.1.5' },
      { protocol: 'udp', origDst: '192.0.2.53', replySrc: '10.244.1.5' },
      { protocol: 'udp', origPortDst: 30053, replySrc: '10.244.1.5' },
    ]);
    p.upsert(dnsSlice(['10.244.1.6', '10.244.1.7']));
    expect(p.takeChanges().conntrack).toEqual([]);
  });

  it('TCP services need nothing (their connections reset)', () => {
    const p = setup();
    p.upsert(service('default', 'web', { clusterIP: '10.96.0.10' }));
    p.upsert(slice('default', 'web-1', 'web', [{ name: 'p80', port: 80 }], [{ ip: '10.244.1.9' }]));
    expect(p.takeChanges().conntrack).toEqual([]);
  });
});
