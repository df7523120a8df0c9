import { describe, expect, it } from 'vitest';
import { DEFAULT_OVERLAY_CONFIG, parseNetConf } from './net-conf';
import { parseKubeProxyConfiguration, parseKubeProxyRelease } from './proxy-config';
import { defaultHostFacts, parseHostFacts } from './host-facts';

describe("flannel's net-conf.json", () => {
  it('reads the vxlan backend with flannel defaults (VNI 1, kernel port 8472), keys case-insensitive as in Go', () => {
    expect(parseNetConf({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } })).toEqual(
      DEFAULT_OVERLAY_CONFIG,
    );
    expect(
      parseNetConf({
        network: '10.42.0.0/16',
        backend: { type: 'vxlan', vni: 7, port: 4789, mtu: 1400, directRouting: true },
      }),
    ).toMatchObject({
      network: '10.42.0.0/16',
      vni: 7,
      port: 4789,
      mtu: 1400,
      directRouting: true,
    });
  });

  it('reads a dual-stack overlay: EnableIPv6 with its IPv6Network', () => {
    expect(
      parseNetConf({
        Network: '10.244.0.0/16',
        EnableIPv6: true,
        IPv6Network: 'FD00:10:244::/56',
        Backend: { Type: 'vxlan' },
      }),
    ).toEqual({ ...DEFAULT_OVERLAY_CONFIG, ipv6Network: 'fd00:10:244::/56' });
  });

  it.each([
    [{}, 'Network: required'],
    [{ Network: '10.244.0.0/33', Backend: { Type: 'vxlan' } }, 'is not an IPv4 CIDR'],
    [{ Network: '10.244.0.0/16', Backend: { Type: 'host-gw' } }, 'Backend.Type: "host-gw" is not supported'],
    [{ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', VNI: -1 } }, 'Backend.VNI: must be an integer'],
    [{ Network: '10.244.0.0/16', Backend: { Type: 'vxlan', Learning: true } }, 'Backend.Learning'],
    [{ Network: '10.244.0.0/16', EnableIPv6: true, Backend: { Type: 'vxlan' } }, 'IPv6Network: required'],
    [
      { Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: '10.0.0.0/8', Backend: { Type: 'vxlan' } },
      'is not an IPv6 CIDR',
    ],
    [
      { EnableIPv4: false, EnableIPv6: true, IPv6Network: 'fd00::/56', Backend: { Type: 'vxlan' } },
      'EnableIPv4: an IPv6-only overlay is not supported yet',
    ],
  ])('rejects %j', (raw, message) => {
    expect(() => parseNetConf(raw)).toThrow(message);
  });
});

describe('KubeProxyConfiguration and host facts', () => {
  it('reads kube-proxy fields and refuses other documents', () => {
    const config = parseKubeProxyConfiguration({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clusterCIDR: '10.244.0.0/16,fd00::/48',
      detectLocalMode: 'NodeCIDR',
      iptables: { masqueradeBit: 15, localhostNodePorts: false },
      linux: { masqueradeAll: true },
      nodePortAddresses: ['192.168.0.0/16', 'primary'],
    });
    expect(config).toEqual({
      release: 'v1.37',
      clusterCIDRs: ['10.244.0.0/16', 'fd00::/48'],
      detectLocalMode: 'NodeCIDR',
      bridgeInterface: '',
      interfaceNamePrefix: '',
      conntrackTcpBeLiberal: false,
      masqueradeBit: 15,
      masqueradeAll: true,
      localhostNodePorts: false,
      nodePortAddresses: ['192.168.0.0/16', 'primary'],
    });
    expect(() => parseKubeProxyConfiguration({ kind: 'Pod' })).toThrow(
      /kind: expected KubeProxyConfiguration/,
    );
    expect(() =>
      parseKubeProxyConfiguration({
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        kind: 'KubeProxyConfiguration',
        iptables: { masqueradeBit: 40 },
      }),
    ).toThrow(/masqueradeBit/);
  });

  it('reads every detect-local mode, conntrack.tcpBeLiberal and the nodePortAddresses keywords', () => {
    const kpc = (extra: Record<string, unknown>) =>
      parseKubeProxyConfiguration({
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        kind: 'KubeProxyConfiguration',
        ...extra,
      });
    expect(
      kpc({ detectLocalMode: 'BridgeInterface', detectLocal: { bridgeInterface: 'cni0' } }),
    ).toMatchObject({
      detectLocalMode: 'BridgeInterface',
      bridgeInterface: 'cni0',
    });
    expect(
      kpc({ detectLocalMode: 'InterfaceNamePrefix', detectLocal: { interfaceNamePrefix: 'veth' } }),
    ).toMatchObject({ detectLocalMode: 'InterfaceNamePrefix', interfaceNamePrefix: 'veth' });
    expect(() => kpc({ detectLocalMode: 'BridgeInterface' })).toThrow(/bridgeInterface: required/);
    expect(() =>
      kpc({ detectLocalMode: 'BridgeInterface', detectLocal: { bridgeInterface: 'cni0 -j ACCEPT' } }),
    ).toThrow(/not an interface name/);
    expect(() => kpc({ detectLocalMode: 'Magic' })).toThrow(/detectLocalMode/);
    expect(kpc({ conntrack: { tcpBeLiberal: true } }).conntrackTcpBeLiberal).toBe(true);
    expect(kpc({ nodePortAddresses: ['primary', 'localhost', 'all'] }).nodePortAddresses).toEqual([
      'primary',
      'localhost',
      'all',
    ]);
  });

  it('follows the release asked for: v1.37 by default, the keywords only where that release has them', () => {
    const raw = (nodePortAddresses: string[]) => ({
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      nodePortAddresses,
    });
    expect(parseKubeProxyRelease('1.36')).toBe('v1.36');
    expect(parseKubeProxyRelease('v1.34.4')).toBe('v1.34');
    expect(() => parseKubeProxyRelease('v1.29')).toThrow(/expected one of v1.34, v1.35, v1.36, v1.37/);
    expect(parseKubeProxyConfiguration(raw(['primary']), 'v1.34').release).toBe('v1.34');
    expect(() => parseKubeProxyConfiguration(raw(['localhost']), 'v1.36')).toThrow(/new in v1.37/);
    expect(() => parseKubeProxyConfiguration(raw(['primary', '10.0.0.0/8']), 'v1.36')).toThrow(
      /"primary" must be alone before v1.37/,
    );
  });

  it('fills host facts from defaults and validates what is given', () => {
    const defaults = defaultHostFacts(undefined);
    expect(
      parseHostFacts({ interfaceAddresses: ['10.0.0.5/24', '10.0.0.6'] }, defaults).interfaceAddresses,
    ).toEqual(['10.0.0.5/24', '10.0.0.6/32']);
    expect(() => parseHostFacts({ iptables: { nfacct: ['bad name;'] } }, defaults)).toThrow(
      /iptables.nfacct\[0\]/,
    );
    expect(() => parseHostFacts({ underlayMtu: 100 }, defaults)).toThrow(/underlayMtu/);
  });
});
