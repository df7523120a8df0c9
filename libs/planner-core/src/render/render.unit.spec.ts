import { describe, expect, it } from 'vitest';
import { DEFAULT_PROXY_CONFIG, EMPTY_NODE_STATE, nodeState } from '@netledger/model';
import { NetworkPlanner, nodeStateOf } from '../network-planner';
import { diffNodeStates } from '../state/diff';
import { formatOverlayOps, renderDiffOverlay } from './iproute2';
import { batchInput } from './batch-input';
import { renderDiffRestore, renderStateListing } from './iptables';
import { node, service, slice } from '../../../../test/support/kube';

function planner() {
  const p = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] });
  p.upsert(node('node-a', '192.168.56.11', '10.244.1.0/24'));
  p.upsert(node('node-b', '192.168.56.12', '10.244.2.0/24'));
  p.upsert(service('default', 'web', { clusterIP: '10.96.0.10' }));
  p.upsert(
    slice('default', 'web-1', 'web', [{ name: 'p80', port: 8080 }], [{ ip: '10.244.2.5', node: 'node-b' }]),
  );
  return p;
}

describe('rendering a diff for the host', () => {
  it('a new endpoint: the service chain rewritten, one new KUBE-SEP chain, nothing else', () => {
    const p = planner();
    const before = nodeStateOf(p.planNode('node-a'));
    p.upsert(
      slice(
        'default',
        'web-1',
        'web',
        [{ name: 'p80', port: 8080 }],
        [
          { ip: '10.244.2.5', node: 'node-b' },
          { ip: '10.244.1.9', node: 'node-a' },
        ],
      ),
    );
    const after = nodeStateOf(p.planNode('node-a'));
    const diff = diffNodeStates(before, after);
    const svc = 'KUBE-SVC-4HWD6WD2BXF6N7ZC';
    const text = renderDiffRestore(diff);
    expect(text).toMatch(/^\*nat\n/);
    expect(text).not.toContain('*filter');
    expect(text).toContain(`:${svc} - [0:0]\n`);
    expect(text.match(/^:KUBE-SEP-\w+ - \[0:0\]$/gm)).toHaveLength(1);
    expect(text).toContain(
      '-m comment --comment "default/web:p80 -> 10.244.1.9:8080" -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-',
    );
    expect(text).not.toContain('-X ');
    expect(text.trim().endsWith('COMMIT')).toBe(true);
    expect(formatOverlayOps(renderDiffOverlay(before, diff))).toBe('');
  });

  it('given the state it applies to, an edit deletes rules by their text (by position only for a duplicate)', () => {
    const rules = Array.from({ length: 12 }, (_, i) => `-d 10.96.0.${i} -j KUBE-SVC-${i}`);
    const chain = { table: 'nat' as const, chain: 'KUBE-SERVICES', rules: [...rules, rules[0]!] };
    const before = nodeState({ chains: [chain] });
    const after = nodeState({ chains: [{ ...chain, rules: chain.rules.filter((_, i) => i !== 5) }] });
    const diff = diffNodeStates(before, after);
    expect(diff.chains[0]!.op).toBe('edit');
    expect(renderDiffRestore(diff, before)).toContain('\n-D KUBE-SERVICES -d 10.96.0.5 -j KUBE-SVC-5\n');
    expect(renderDiffRestore(diff)).toContain('\n-D KUBE-SERVICES 6\n');
    const dup = nodeState({ chains: [{ ...chain, rules: chain.rules.slice(1) }] });
    expect(renderDiffRestore(diffNodeStates(before, dup), before)).toContain('\n-D KUBE-SERVICES 1\n');
  });

  it('a service that goes away: its chains flushed and deleted after the jumps to them are gone', () => {
    const p = planner();
    const before = nodeStateOf(p.planNode('node-a'));
    p.remove('Service', 'default', 'web');
    const text = renderDiffRestore(diffNodeStates(before, nodeStateOf(p.planNode('node-a'))));
    const lines = text.trim().split('\n');
    const declare = lines.findIndex((l) => l.startsWith(':KUBE-SVC-'));
    const xs = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('-X '));
    expect(xs.map(([l]) => l.slice(0, 12))).toEqual(['-X KUBE-SVC-', '-X KUBE-SEP-']);
    // The rule in KUBE-SERVICES that jumped to the service chain is removed before -X.
    const servicesEdit = lines.findIndex(
      (l) => l.startsWith('-D KUBE-SERVICES') || l.startsWith('-A KUBE-SERVICES'),
    );
    expect(declare).toBeGreaterThan(0);
    expect(servicesEdit).toBeLessThan(xs[0]![1]);
  });

  it('a long chain changes by rule positions, numbered from 1', () => {
    const p = planner();
    for (let i = 0; i < 20; i++) {
      p.upsert(service('default', `s${i}`, { clusterIP: `10.96.1.${i + 1}` }));
      p.upsert(
        slice('default', `s${i}-1`, `s${i}`, [{ name: 'p80', port: 80 }], [{ ip: `10.244.2.${i + 10}` }]),
      );
    }
    const before = nodeStateOf(p.planNode('node-a'));
    p.upsert(service('default', 's10b', { clusterIP: '10.96.2.1' }));
    p.upsert(slice('default', 's10b-1', 's10b', [{ name: 'p80', port: 80 }], [{ ip: '10.244.2.99' }]));
    const text = renderDiffRestore(diffNodeStates(before, nodeStateOf(p.planNode('node-a'))));
    // In name order ("default/s0:p80" < "default/s10:p80" < "default/s10b:p80" < "default/s1:p80",
    // as ':' sorts after digits and before letters) s10b is the third rule.
    expect(text).toContain(
      '-I KUBE-SERVICES 3 -m comment --comment "default/s10b:p80 cluster IP" -m tcp -p tcp -d 10.96.2.1 --dport 80 -j KUBE-SVC-',
    );
    expect(text).not.toContain(':KUBE-SERVICES');
  });

  it('a node joining: every other node gets one FDB entry, one neighbour and one route, in that order', () => {
    const p = planner();
    const before = nodeStateOf(p.planNode('node-a'));
    p.upsert(
      node('node-c', '192.168.56.13', '10.244.3.0/24', {
        'flannel.alpha.coreos.com/backend-data': '{"VNI":1,"VtepMAC":"0a:58:0a:f4:03:00"}',
      }),
    );
    const after = nodeStateOf(p.planNode('node-a'));
    const diff = diffNodeStates(before, after);
    expect(renderDiffRestore(diff)).toBe('');
    expect(formatOverlayOps(renderDiffOverlay(before, diff))).toBe(
      [
        '# bridge -batch -',
        'fdb replace 0a:58:0a:f4:03:00 dev flannel.1 dst 192.168.56.13 self permanent',
        '# ip -batch -',
        'neigh replace 10.244.3.0 lladdr 0a:58:0a:f4:03:00 dev flannel.1 nud permanent',
        'route replace 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink',
        '',
      ].join('\n'),
    );
  });

  it('a node leaving: route removed before its neighbour and FDB entry', () => {
    const p = planner();
    const before = nodeStateOf(p.planNode('node-a'));
    p.remove('Node', '', 'node-b');
    const diff = diffNodeStates(before, nodeStateOf(p.planNode('node-a')));
    const ops = renderDiffOverlay(before, diff);
    expect(ops.ipBefore).toEqual([
      'route del 10.244.2.0/24 via 10.244.2.0 dev flannel.1',
      'neigh del 10.244.2.0 dev flannel.1',
    ]);
    expect(ops.bridge).toEqual([expect.stringMatching(/^fdb del \S+ dev flannel.1 dst 192.168.56.12 self$/)]);
    expect(ops.ipAfter).toEqual([]);
  });

  it('a device whose VNI changes is re-created and its entries added back', () => {
    const p = planner();
    const before = nodeStateOf(p.planNode('node-a'));
    p.overlay.setConfig({ ...p.overlay.planNode('node-a').config, vni: 2 });
    const after = nodeStateOf(p.planNode('node-a'));
    const ops = renderDiffOverlay(before, diffNodeStates(before, after));
    expect(ops.ipBefore[0]).toBe(
      'link add flannel.2 type vxlan id 2 local 192.168.56.11 dstport 8472 nolearning',
    );
    expect(ops.ipAfter.at(-1)).toBe('link del flannel.1');
    expect(ops.ipAfter).toContain('route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.2 onlink');
    const mtu = renderDiffOverlay(
      after,
      diffNodeStates(after, {
        ...after,
        devices: new Map([['flannel.2', { ...after.devices.get('flannel.2')!, mtu: 1400 }]]),
      }),
    );
    expect(mtu.ipBefore).toEqual(['link set flannel.2 mtu 1400']);
    expect(mtu.ipAfter).toEqual([]);
  });

  it('a new VTEP MAC adds back the neighbours the kernel flushes with it, and deletes none', () => {
    const p = planner();
    p.upsert(node('node-c', '192.168.56.13', '10.244.3.0/24'));
    const before = nodeStateOf(p.planNode('node-a'));
    const device = [...before.devices.values()][0]!;
    const neighbours = [...before.neighbours.values()].filter((n) => n.dev === device.name);
    expect(neighbours.length).toBeGreaterThan(1);
    const gone = neighbours[0]!;
    const after = {
      ...before,
      devices: new Map([[device.name, { ...device, mac: '0e:00:00:00:00:42' }]]),
      neighbours: new Map([...before.neighbours].filter(([, n]) => n !== gone)),
    };
    const ops = renderDiffOverlay(before, diffNodeStates(before, after));
    expect(ops.ipBefore).toEqual([`link set ${device.name} address 0e:00:00:00:00:42`]);
    expect(ops.ipAfter.filter((l) => l.startsWith('neigh ')).sort()).toEqual(
      neighbours
        .slice(1)
        .map((n) => `neigh replace ${n.ip} lladdr ${n.lladdr} dev ${n.dev} nud permanent`)
        .sort(),
    );
    expect(ops.bridge).toEqual([]);
  });

  it('from nothing, the whole state: jumps prepended (kube-proxy) and appended (flannel)', () => {
    const p = planner();
    const text = renderDiffRestore(diffNodeStates(EMPTY_NODE_STATE, nodeStateOf(p.planNode('node-a'))));
    expect(text).toContain('-I INPUT 1 -j KUBE-FIREWALL\n');
    expect(text).toContain('-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD\n');
    const firstInput = text.split('\n').filter((l) => l.startsWith('-I INPUT 1'));
    // The last inserted stands first: KUBE-FIREWALL is inserted last.
    expect(firstInput.at(-1)).toBe('-I INPUT 1 -j KUBE-FIREWALL');
  });
});

describe('batch input', () => {
  it('writes one line per operation and refuses a line that would end early', () => {
    expect(batchInput(['route del 10.244.1.0/24 via 10.244.1.0', 'neigh del 10.244.1.0 dev flannel.1'])).toBe(
      'route del 10.244.1.0/24 via 10.244.1.0\nneigh del 10.244.1.0 dev flannel.1\n',
    );
    expect(batchInput([])).toBe('');
    for (const evil of [
      'route del 10.0.0.0/8\nnetns exec host sh',
      '-A X -j ACCEPT\r',
      'a\u0000b',
      'x\u007f',
    ])
      expect(() => batchInput(['link show', evil])).toThrow(/control character/);
  });
});

describe("a node's iptables for a reader", () => {
  it('shows the jumps from the built-in chains as the host ends up with them: prepended first, in order, appended last', () => {
    const state = nodeState({
      chains: [
        { table: 'nat', chain: 'KUBE-SERVICES', rules: ['-j RETURN'] },
        { table: 'nat', chain: 'FLANNEL-POSTRTG', rules: ['-j RETURN'] },
      ],
      jumps: [
        { table: 'nat', chain: 'POSTROUTING', rule: '-j FLANNEL-POSTRTG', position: 'append' },
        { table: 'nat', chain: 'PREROUTING', rule: '-j KUBE-SERVICES', position: 'prepend' },
        { table: 'nat', chain: 'POSTROUTING', rule: '-j KUBE-POSTROUTING', position: 'prepend' },
      ],
    });
    expect(renderStateListing(state)).toBe(
      [
        '*nat',
        ':KUBE-SERVICES - [0:0]',
        ':FLANNEL-POSTRTG - [0:0]',
        '-A POSTROUTING -j KUBE-POSTROUTING',
        '-A POSTROUTING -j FLANNEL-POSTRTG',
        '-A PREROUTING -j KUBE-SERVICES',
        '-A KUBE-SERVICES -j RETURN',
        '-A FLANNEL-POSTRTG -j RETURN',
        'COMMIT',
        '',
      ].join('\n'),
    );
  });
});
