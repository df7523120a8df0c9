import { describe, expect, it } from 'vitest';
import { isNetledgerError } from '../errors/netledger-error';
import { validateEndpointSlice, validateNode, validateObject, validateService } from './validate';

const svc = (
  spec: Record<string, unknown>,
  metadata: Record<string, unknown> = { namespace: 'ns', name: 'web' },
) => ({
  kind: 'Service',
  metadata,
  spec: { clusterIP: '10.96.0.10', ports: [{ port: 80 }], ...spec },
});

function rejection(fn: () => unknown): { message: string; details: Record<string, unknown> } {
  try {
    fn();
  } catch (error) {
    if (isNetledgerError(error, 'INPUT.INVALID_OBJECT'))
      return { message: error.message, details: { ...error.details } };
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('validating Kubernetes objects at the edge', () => {
  it('accepts a Service and canonicalises what it keeps', () => {
    const s = validateService(
      svc({
        type: 'NodePort',
        ports: [{ name: 'http', port: 80, nodePort: 30080 }],
        externalIPs: ['192.0.2.1'],
        loadBalancerSourceRanges: ['10.1.2.3/8'],
      }),
    );
    expect(s).toMatchObject({
      namespace: 'ns',
      name: 'web',
      clusterIPs: ['10.96.0.10'],
      ports: [{ name: 'http', protocol: 'TCP', port: 80, nodePort: 30080 }],
      loadBalancerSourceRanges: ['10.0.0.0/8'],
      sessionAffinityTimeoutSeconds: 10800,
    });
  });

  it('treats clusterIP None as headless and ignores nodePorts of ClusterIP Services', () => {
    expect(validateService(svc({ clusterIP: 'None' })).clusterIPs).toEqual([]);
    expect(validateService(svc({ ports: [{ port: 80, nodePort: 30001 }] })).ports[0]!.nodePort).toBe(0);
  });

  it.each([
    [
      'a name that is not a DNS-1035 label',
      svc({}, { namespace: 'ns', name: 'Web_1' }),
      'metadata.name',
      'is not a DNS-1035 label',
    ],
    [
      'a namespace that is not a DNS label',
      svc({}, { namespace: 'ns/..', name: 'web' }),
      'metadata.namespace',
      'DNS-1123 label',
    ],
    [
      'an unparsable cluster IP',
      svc({ clusterIP: '10.96.0.300' }),
      'spec.clusterIPs[0]',
      'is not an IP address',
    ],
    [
      'an IP with leading zeros',
      svc({ externalIPs: ['010.0.0.1'] }),
      'spec.externalIPs[0]',
      'is not an IP address',
    ],
    ['a port out of range', svc({ ports: [{ port: 70000 }] }), 'spec.ports[0].port', 'must be 1..65535'],
    ['a port of zero', svc({ ports: [{ port: 0 }] }), 'spec.ports[0].port', 'must be 1..65535'],
    [
      'an unknown protocol',
      svc({ ports: [{ port: 53, protocol: 'ICMP' }] }),
      'spec.ports[0].protocol',
      'is not TCP, UDP or SCTP',
    ],
    [
      'a bad source range',
      svc({ loadBalancerSourceRanges: ['1.2.3.4/33'] }),
      'spec.loadBalancerSourceRanges[0]',
      'is not a CIDR',
    ],
    [
      'unnamed ports among several',
      svc({ ports: [{ port: 80 }, { port: 81 }] }),
      'spec.ports[0].name',
      'required',
    ],
    [
      'a port name with a space',
      svc({ ports: [{ name: 'a b', port: 80 }] }),
      'spec.ports[0].name',
      'DNS-1123 label',
    ],
  ])('rejects %s, naming the object and the field', (_what, raw, field, reason) => {
    const r = rejection(() => validateService(raw));
    expect(r.details.field).toBe(field);
    expect(r.message).toContain(reason);
    expect(r.message).toMatch(/^Service /);
  });

  it('rejects EndpointSlice addresses of the wrong family or unparsable', () => {
    const raw = (address: string) => ({
      kind: 'EndpointSlice',
      metadata: { namespace: 'ns', name: 'web-abc', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      ports: [{ name: '', port: 80, protocol: 'TCP' }],
      endpoints: [{ addresses: [address] }],
    });
    expect(validateEndpointSlice(raw('10.1.2.3')).endpoints[0]!.addresses).toEqual(['10.1.2.3']);
    expect(rejection(() => validateEndpointSlice(raw('fd00::1'))).details.field).toBe(
      'endpoints[0].addresses[0]',
    );
    expect(rejection(() => validateEndpointSlice(raw('10.1.2.3 -j ACCEPT'))).message).toContain(
      'is not an IPv4 address',
    );
  });

  it('rejects a Node whose pod CIDR or address does not parse', () => {
    const raw = (podCIDR: string, address: string) => ({
      kind: 'Node',
      metadata: { name: 'node-1' },
      spec: { podCIDR },
      status: { addresses: [{ type: 'InternalIP', address }] },
    });
    expect(validateNode(raw('10.244.1.0/24', '192.168.0.2')).podCIDRs).toEqual(['10.244.1.0/24']);
    expect(rejection(() => validateNode(raw('10.244.1.0', '192.168.0.2'))).details.field).toBe(
      'spec.podCIDR',
    );
    expect(rejection(() => validateNode(raw('10.244.1.0/24', 'node-1'))).details.field).toBe(
      'status.addresses[0].address',
    );
  });

  it("reads flannel's annotations and rejects malformed ones", () => {
    const raw = (annotations: Record<string, string>) => ({
      kind: 'Node',
      metadata: { name: 'node-1', annotations },
      spec: {},
      status: {},
    });
    const n = validateNode(
      raw({
        'flannel.alpha.coreos.com/backend-data': '{"VNI":1,"VtepMAC":"0A:58:0a:f4:01:00"}',
        'flannel.alpha.coreos.com/public-ip': '192.168.56.11',
        'flannel.alpha.coreos.com/public-ip-overwrite': '203.0.113.9',
        'other.io/ignored': 'x',
      }),
    );
    expect(n.flannelVtepMac).toBe('0a:58:0a:f4:01:00');
    expect(n.flannelPublicIp).toBe('203.0.113.9');
    expect(Object.keys(n.annotations)).not.toContain('other.io/ignored');
    expect(
      rejection(() => validateNode(raw({ 'flannel.alpha.coreos.com/backend-data': '{"VtepMAC":"zz"}' })))
        .message,
    ).toContain('has no valid VtepMAC');
    expect(
      rejection(() => validateNode(raw({ 'flannel.alpha.coreos.com/public-ip': '1.2.3' }))).details.field,
    ).toBe('metadata.annotations.flannel.alpha.coreos.com/public-ip');
  });

  it('refuses kinds it does not read', () => {
    expect(() => validateObject({ kind: 'Pod' })).toThrow(/kind "Pod" is not one Netledger reads/);
  });
});
