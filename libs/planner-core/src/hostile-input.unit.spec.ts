import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROXY_CONFIG, isNetledgerError, validateObject, type KubeObject } from '@netledger/model';
import { NetworkPlanner, nodeStateOf } from './network-planner';
import { formatOverlayOps, renderStateOverlay } from './render/iproute2';
import { renderStateListing } from './render/iptables';
import { rawNode, rawService, rawSlice } from '../../../test/support/kube';

/*
 * No value from the cluster can inject an argument, a quote or a line into iptables-restore
 * input: hostile strings are put into every string field; each object is either rejected with
 * INPUT.INVALID_OBJECT or renders to lines of a strict grammar.
 */

const hostile = fc.oneof(
  fc.constantFrom(
    'a"b',
    "a'b",
    'x\n-A INPUT -j ACCEPT',
    'x -j ACCEPT',
    '--comment',
    '10.0.0.1 -j ACCEPT',
    '10.0.0.1\n',
    ' 10.0.0.1',
    '10.0.0.1/8 ! -s 0.0.0.0/0',
    '$(reboot)',
    '`id`',
    'web;rm -rf /',
    'ns/../../x',
    '\u0000',
    '\u202e',
    'a'.repeat(300),
    '1.2.3.4:80',
    '::ffff:1.2.3.4',
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
);

const TOKEN = /^[A-Za-z0-9_.:/,!-]+$/;
const COMMENT = /^"[A-Za-z0-9./:>;, -]+"$/;

/** Splits a rule into arguments the way iptables-restore does: spaces, with "..." kept whole. */
function tokens(rule: string): string[] {
  const out: string[] = [];
  const re = /"[^"]*"|\S+/g;
  for (const m of rule.matchAll(re)) out.push(m[0]);
  return out;
}

function assertSafe(text: string): void {
  for (const line of text.split('\n')) {
    if (line === '' || line === '*filter' || line === '*nat' || line === 'COMMIT') continue;
    if (/^:[A-Z0-9-]{1,28} - \[0:0\]$/.test(line)) continue;
    const m = /^-A ([A-Z0-9-]{1,28}) (.+)$/.exec(line);
    expect(m, line).not.toBeNull();
    for (const token of tokens(m![2]!)) {
      expect(TOKEN.test(token) || COMMENT.test(token), `${token} in ${line}`).toBe(true);
    }
  }
}

function accept(raw: unknown): KubeObject | undefined {
  try {
    return validateObject(raw);
  } catch (error) {
    expect(isNetledgerError(error), String(error)).toBe(true);
    return undefined;
  }
}

describe('hostile strings never reach the rendered rules', () => {
  // 1,500 runs take ~7 s on two cores: the run count decides this test, not the default 5 s limit.
  it('in every field of Services, EndpointSlices and Nodes', { timeout: 60_000 }, () => {
    fc.assert(
      fc.property(hostile, fc.nat({ max: 15 }), (evil, field) => {
        const svc = rawService('ns', 'web', {
          type: 'LoadBalancer',
          clusterIP: '172.30.0.1',
          ports: [{ name: 'http', port: 80, nodePort: 30080 }],
          externalIPs: ['192.0.2.10'],
          ingress: ['198.51.100.1'],
          loadBalancerSourceRanges: ['203.0.113.0/24'],
        }) as {
          metadata: Record<string, unknown>;
          spec: Record<string, unknown> & { ports: Record<string, unknown>[] };
          status: { loadBalancer: { ingress: Record<string, unknown>[] } };
        };
        const sl = rawSlice(
          'ns',
          'web-1',
          'web',
          [{ name: 'http', port: 8080 }],
          [{ ip: '10.1.0.5', node: 'node-1' }],
        ) as {
          metadata: Record<string, unknown> & { labels: Record<string, string> };
          endpoints: Record<string, unknown>[];
          ports: Record<string, unknown>[];
        };
        const nd = rawNode('node-1', '192.168.0.2', '10.1.0.0/24') as {
          metadata: Record<string, unknown>;
          spec: Record<string, unknown>;
        };
        const setters = [
          () => (svc.metadata.name = evil),
          () => (svc.metadata.namespace = evil),
          () => (svc.spec.clusterIP = evil),
          () => (svc.spec.ports[0]!.name = evil),
          () => (svc.spec.externalIPs = [evil]),
          () => (svc.spec.loadBalancerSourceRanges = [evil]),
          () => (svc.status.loadBalancer.ingress[0]!.ip = evil),
          () => (svc.spec.ports[0]!.protocol = evil),
          () => (sl.metadata.labels['kubernetes.io/service-name'] = evil),
          () => (sl.endpoints[0]!.addresses = [evil]),
          () => (sl.endpoints[0]!.nodeName = evil),
          () => (sl.ports[0]!.name = evil),
          () => (nd.metadata.name = evil),
          () => (nd.spec.podCIDR = evil),
          () => (nd.metadata.annotations = { 'flannel.alpha.coreos.com/public-ip': evil }),
          () =>
            (nd.metadata.annotations = {
              'flannel.alpha.coreos.com/backend-data': JSON.stringify({ VNI: 1, VtepMAC: evil }),
            }),
        ];
        setters[field]!();
        const planner = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.0.0.0/8'] });
        planner.upsert(accept(rawNode('node-0', '192.168.0.9', '10.1.9.0/24'))!);
        for (const raw of [nd, svc, sl]) {
          const object = accept(raw);
          if (object) planner.upsert(object);
        }
        for (const name of ['node-0', 'node-1']) {
          const state = nodeStateOf(planner.planNode(name));
          assertSafe(renderStateListing(state));
          for (const line of formatOverlayOps(renderStateOverlay(state)).split('\n')) {
            if (line === '' || line.startsWith('# ')) continue;
            expect(/^[a-z]+( [A-Za-z0-9.:/_-]+)+$/.test(line), line).toBe(true);
          }
        }
      }),
      { numRuns: 1500 },
    );
  });
});
