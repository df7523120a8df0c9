import { describe, expect, it } from 'vitest';
import { isNetledgerError } from '../errors/netledger-error';
import {
  type validateEndpointSlice,
  validateNode,
  validateObject,
  validateObjectReporting,
  validateService,
  type DroppedElement,
} from './validate';

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

  it('reads IPv4 with leading zeros as kube-proxy does (decimal), in every address it programs', () => {
    const s = validateService(
      svc({
        clusterIP: '10.096.000.010',
        externalIPs: ['192.168.099.022'],
        loadBalancerSourceRanges: ['010.001.0.0/16'],
      }),
    );
    expect(s.clusterIPs).toEqual(['10.96.0.10']);
    expect(s.externalIPs).toEqual(['192.168.99.22']);
    expect(s.loadBalancerSourceRanges).toEqual(['10.1.0.0/16']);
  });

  it('drops a bad external IP, source range or ingress IP, says which and why, and keeps the rest', () => {
    const dropped: DroppedElement[] = [];
    const s = validateService(
      {
        ...svc({
          type: 'LoadBalancer',
          externalIPs: ['192.0.2.1', 'not-an-ip', '192.0.2.300'],
          loadBalancerSourceRanges: ['1.2.3.4/33', '203.0.113.0/24'],
        }),
        status: {
          loadBalancer: { ingress: [{ ip: '5.6.7.8' }, { ip: '5.6.7' }, { hostname: 'lb.example' }] },
        },
      },
      dropped,
    );
    expect(s.externalIPs).toEqual(['192.0.2.1']);
    expect(s.loadBalancerSourceRanges).toEqual(['203.0.113.0/24']);
    expect(s.loadBalancerIngress).toEqual([{ ip: '5.6.7.8', ipMode: 'VIP' }]);
    expect(dropped).toEqual([
      { field: 'spec.externalIPs[1]', reason: '"not-an-ip" is not an IP address' },
      { field: 'spec.externalIPs[2]', reason: '"192.0.2.300" is not an IP address' },
      { field: 'spec.loadBalancerSourceRanges[0]', reason: '"1.2.3.4/33" is not a CIDR' },
      { field: 'status.loadBalancer.ingress[1]', reason: '"5.6.7" is not an IP address' },
    ]);
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
    ['a port out of range', svc({ ports: [{ port: 70000 }] }), 'spec.ports[0].port', 'must be 1..65535'],
    ['a port of zero', svc({ ports: [{ port: 0 }] }), 'spec.ports[0].port', 'must be 1..65535'],
    [
      'an unknown protocol',
      svc({ ports: [{ port: 53, protocol: 'ICMP' }] }),
      'spec.ports[0].protocol',
      'is not TCP, UDP or SCTP',
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

  it('drops an endpoint whose address is of the wrong family, unparsable or missing, and a bad port', () => {
    const raw = (addresses: string[][], ports: unknown[] = [{ name: '', port: 80, protocol: 'TCP' }]) => ({
      kind: 'EndpointSlice',
      metadata: { namespace: 'ns', name: 'web-abc', labels: { 'kubernetes.io/service-name': 'web' } },
      addressType: 'IPv4',
      ports,
      endpoints: addresses.map((a) => ({ addresses: a })),
    });
    const { object, dropped } = validateObjectReporting(
      raw(
        [['10.1.2.3'], ['fd00::1'], ['10.1.2.4 -j ACCEPT'], [], ['10.001.002.005']],
        [
          { name: 'http', port: 80, protocol: 'TCP' },
          { name: 'metrics', port: 0, protocol: 'TCP' },
          { name: 'Bad Name', port: 81, protocol: 'TCP' },
        ],
      ),
    );
    const slice = object as ReturnType<typeof validateEndpointSlice>;
    expect(slice.endpoints.map((e) => e.addresses)).toEqual([['10.1.2.3'], ['10.1.2.5']]);
    expect(slice.ports).toEqual([{ name: 'http', port: 80, protocol: 'TCP' }]);
    expect(dropped).toEqual([
      { field: 'endpoints[1]', reason: 'addresses[0]: "fd00::1" is not an IPv4 address' },
      { field: 'endpoints[2]', reason: 'addresses[0]: "10.1.2.4 -j ACCEPT" is not an IPv4 address' },
      { field: 'endpoints[3]', reason: 'no address (kube-proxy skips it)' },
      { field: 'ports[1]', reason: 'port: must be 1..65535' },
      { field: 'ports[2]', reason: expect.stringContaining('name: "Bad Name" is not a DNS-1123 label') },
    ]);
    // Nothing of a dropped element reaches the object: no address text, no port.
    expect(JSON.stringify(slice)).not.toContain('ACCEPT');
  });

  it('rejects a Node whose pod CIDR does not parse; drops an address that does not', () => {
    const raw = (podCIDR: string, address: string) => ({
      kind: 'Node',
      metadata: { name: 'node-1' },
      spec: { podCIDR },
      status: {
        addresses: [
          { type: 'Hostname', address: 'node-1' },
          { type: 'InternalIP', address },
        ],
      },
    });
    expect(validateNode(raw('10.244.1.0/24', '192.168.0.2')).podCIDRs).toEqual(['10.244.1.0/24']);
    expect(rejection(() => validateNode(raw('10.244.1.0', '192.168.0.2'))).details.field).toBe(
      'spec.podCIDR',
    );
    const { object, dropped } = validateObjectReporting(raw('10.244.1.0/24', 'node-1'));
    expect(object).toMatchObject({ addresses: [] });
    expect(dropped).toEqual([{ field: 'status.addresses[1]', reason: '"node-1" is not an IP address' }]);
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
