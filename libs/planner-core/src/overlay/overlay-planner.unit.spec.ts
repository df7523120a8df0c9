import { describe, expect, it } from 'vitest';
import {
  DEFAULT_OVERLAY_CONFIG,
  DEFAULT_PROXY_CONFIG,
  parseNetConf,
  validateNode,
  type HostFacts,
} from '@netledger/model';
import { NetworkPlanner, nodeStateOf } from '../network-planner';
import { renderStateOverlay, formatOverlayOps } from '../render/iproute2';
import { renderStateRestore } from '../render/iptables';
import { derivedVtepMac } from './vtep-mac';
import { node } from '../../../../test/support/kube';

const MAC_A = '0a:58:0a:f4:01:00';
const MAC_B = '0a:58:0a:f4:02:00';
const MAC_C = '0a:58:0a:f4:03:00';
const backend = (mac: string) => ({
  'flannel.alpha.coreos.com/backend-data': JSON.stringify({ VNI: 1, VtepMAC: mac }),
});

function cluster(overlay = DEFAULT_OVERLAY_CONFIG) {
  const p = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] }, overlay);
  p.upsert(node('node-a', '192.168.56.11', '10.244.1.0/24', backend(MAC_A)));
  p.upsert(node('node-b', '192.168.56.12', '10.244.2.0/24', backend(MAC_B)));
  p.upsert(node('node-c', '192.168.57.13', '10.244.3.0/24', backend(MAC_C)));
  return p;
}

const overlayText = (p: NetworkPlanner, n: string) =>
  formatOverlayOps(renderStateOverlay(nodeStateOf(p.planNode(n))));

describe('flannel vxlan overlay', () => {
  it('gives each node its device and, per other node, one onlink route, one neighbour and one FDB entry', () => {
    expect(overlayText(cluster(), 'node-a')).toBe(
      [
        '# ip -batch -',
        'link add flannel.1 type vxlan id 1 local 192.168.56.11 dstport 8472 nolearning',
        `link set flannel.1 address ${MAC_A} mtu 1450`,
        'addr replace 10.244.1.0/32 dev flannel.1',
        'link set flannel.1 up',
        '# bridge -batch -',
        `fdb replace ${MAC_B} dev flannel.1 dst 192.168.56.12 self permanent`,
        `fdb replace ${MAC_C} dev flannel.1 dst 192.168.57.13 self permanent`,
        '# ip -batch -',
        `neigh replace 10.244.2.0 lladdr ${MAC_B} dev flannel.1 nud permanent`,
        `neigh replace 10.244.3.0 lladdr ${MAC_C} dev flannel.1 nud permanent`,
        'route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink',
        'route replace 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink',
        '',
      ].join('\n'),
    );
  });

  it('two nodes: each has exactly the other', () => {
    const p = cluster();
    p.remove('Node', '', 'node-c');
    const s = nodeStateOf(p.planNode('node-b'));
    expect([...s.routes.keys()]).toEqual(['10.244.1.0/24']);
    expect([...s.neighbours.values()]).toEqual([{ dev: 'flannel.1', ip: '10.244.1.0', lladdr: MAC_A }]);
    expect([...s.fdb.values()]).toEqual([{ dev: 'flannel.1', mac: MAC_A, dst: '192.168.56.11' }]);
  });

  it('N nodes: N-1 entries of each kind per node, the peer entries shared between nodes', () => {
    const p = new NetworkPlanner();
    for (let i = 0; i < 50; i++) p.upsert(node(`n-${i}`, `192.168.1.${i + 1}`, `10.244.${i}.0/24`));
    const states = ['n-0', 'n-7', 'n-49'].map((n) => nodeStateOf(p.planNode(n)));
    for (const s of states) {
      expect(s.routes.size).toBe(49);
      expect(s.neighbours.size).toBe(49);
      expect(s.fdb.size).toBe(49);
    }
    expect(states[0]!.routes.get('10.244.20.0/24')).toBe(states[1]!.routes.get('10.244.20.0/24'));
  });

  it('a node that leaves disappears from every other node; a node without a pod CIDR has no overlay', () => {
    const p = cluster();
    p.remove('Node', '', 'node-b');
    expect([...nodeStateOf(p.planNode('node-a')).routes.keys()]).toEqual(['10.244.3.0/24']);
    p.upsert(node('node-d', '192.168.56.14'));
    const d = nodeStateOf(p.planNode('node-d'));
    expect(d.devices.size).toBe(0);
    expect(d.routes.size).toBe(0);
    expect(nodeStateOf(p.planNode('node-a')).routes.size).toBe(1);
  });

  it('the public IP comes from the public-ip(-overwrite) annotation, the MAC from backend-data or the node name', () => {
    const p = cluster();
    p.upsert(
      node('node-e', '10.0.0.5', '10.244.5.0/24', { 'flannel.alpha.coreos.com/public-ip': '192.168.58.5' }),
    );
    p.upsert(
      node('node-f', '10.0.0.6', '10.244.6.0/24', {
        'flannel.alpha.coreos.com/public-ip': '1.1.1.1',
        'flannel.alpha.coreos.com/public-ip-overwrite': '192.168.58.6',
      }),
    );
    const a = nodeStateOf(p.planNode('node-a'));
    expect(a.fdb.get(`flannel.1/${derivedVtepMac('node-e')}/192.168.58.5`)).toBeDefined();
    expect([...a.fdb.values()].find((f) => f.mac === derivedVtepMac('node-f'))!.dst).toBe('192.168.58.6');
    expect(derivedVtepMac('node-e')).toMatch(/^[0-9a-f][26ae](:[0-9a-f]{2}){5}$/);
    expect(derivedVtepMac('node-e')).toBe(derivedVtepMac('node-e'));
    expect(derivedVtepMac('node-e')).not.toBe(derivedVtepMac('node-f'));
    // Peers send to the overwrite; flannel's own device keeps the node's address as its local one.
    const f = nodeStateOf(p.planNode('node-f'));
    expect([...f.devices.values()][0]!.localIp).toBe('10.0.0.6');
    const e = nodeStateOf(p.planNode('node-e'));
    expect([...e.devices.values()][0]!.localIp).toBe('192.168.58.5');
  });

  it('DirectRouting: a peer on the same underlay subnet gets a plain route via its public IP and no VTEP entries', () => {
    const p = cluster({ ...DEFAULT_OVERLAY_CONFIG, directRouting: true });
    const facts: HostFacts = {
      interfaceAddresses: ['192.168.56.11/24'],
      randomFully: true,
      nfacctCounters: [],
      conntrackTcpBeLiberal: false,
      underlayMtu: 9000,
    };
    p.setHostFacts('node-a', facts);
    const a = nodeStateOf(p.planNode('node-a'));
    expect([...a.routes.values()]).toEqual([
      { dst: '10.244.2.0/24', via: '192.168.56.12', dev: null, onlink: false },
      { dst: '10.244.3.0/24', via: '10.244.3.0', dev: 'flannel.1', onlink: true },
    ]);
    expect([...a.neighbours.keys()]).toEqual(['flannel.1/10.244.3.0']);
    expect([...a.fdb.keys()]).toEqual([`flannel.1/${MAC_C}/192.168.57.13`]);
    // The device takes the underlay MTU less the VXLAN overhead.
    expect(a.devices.get('flannel.1')!.mtu).toBe(8950);
    expect(overlayText(p, 'node-a')).toContain('route replace 10.244.2.0/24 via 192.168.56.12\n');
  });

  it("net-conf.json sets the VNI, port and MTU (flannel's own file)", () => {
    const conf = parseNetConf({
      Network: '10.244.0.0/16',
      Backend: { Type: 'vxlan', VNI: 4096, Port: 4789, MTU: 1400 },
    });
    const a = nodeStateOf(cluster(conf).planNode('node-a'));
    expect(a.devices.get('flannel.4096')).toEqual({
      name: 'flannel.4096',
      vni: 4096,
      port: 4789,
      localIp: '192.168.56.11',
      mac: MAC_A,
      mtu: 1350,
      address: '10.244.1.0/32',
      learning: false,
      gbp: false,
    });
    expect([...a.routes.values()][0]!.dev).toBe('flannel.4096');
  });

  it("writes flannel's masquerade and forward chains for the pod network, appended to POSTROUTING and FORWARD", () => {
    const s = nodeStateOf(cluster().planNode('node-a'));
    const text = renderStateRestore({
      ...s,
      chains: new Map([...s.chains].filter(([k]) => k.includes('FLANNEL'))),
    });
    expect(text).toBe(
      [
        '*filter',
        ':FLANNEL-FWD - [0:0]',
        '-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
        '-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
        'COMMIT',
        '*nat',
        ':FLANNEL-POSTRTG - [0:0]',
        '-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
        '-A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN',
        '-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN',
        '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -m comment --comment "flanneld masq" -j RETURN',
        '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
        '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
        'COMMIT',
        '',
      ].join('\n'),
    );
    expect([...s.jumps.values()].filter((j) => j.position === 'append')).toEqual([
      {
        table: 'nat',
        chain: 'POSTROUTING',
        rule: '-m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
        position: 'append',
      },
      {
        table: 'filter',
        chain: 'FORWARD',
        rule: '-m comment --comment "flanneld forward" -j FLANNEL-FWD',
        position: 'append',
      },
    ]);
  });
});

describe("flannel's IPv6 overlay (EnableIPv6, a dual-stack net-conf)", () => {
  const dualNode = (name: string, n: number, annotations: Record<string, string> = {}) =>
    validateNode({
      kind: 'Node',
      metadata: { name, annotations },
      spec: { podCIDR: `10.244.${n}.0/24`, podCIDRs: [`10.244.${n}.0/24`, `fd00:10:244:${n}::/64`] },
      status: {
        addresses: [
          { type: 'InternalIP', address: `192.168.56.1${n}` },
          { type: 'InternalIP', address: `fd00:56::1${n}` },
        ],
      },
    });
  const MAC_B6 = '0a:58:fd:00:02:00';
  const dualStack = parseNetConf({
    Network: '10.244.0.0/16',
    EnableIPv6: true,
    IPv6Network: 'fd00:10:244::/56',
    Backend: { Type: 'vxlan' },
  });

  it('gives a node the flannel-v6 device and per IPv6 peer a route, neighbour and FDB entry, as flannel does', () => {
    const p = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] }, dualStack);
    p.upsert(dualNode('node-a', 1));
    p.upsert(
      dualNode('node-b', 2, {
        'flannel.alpha.coreos.com/backend-v6-data': JSON.stringify({ VNI: 1, VtepMAC: MAC_B6 }),
        'flannel.alpha.coreos.com/public-ipv6-overwrite': 'fd00:57::12',
      }),
    );
    const state = nodeStateOf(p.planNode('node-a'));
    expect(state.devices.get('flannel-v6.1')).toEqual({
      name: 'flannel-v6.1',
      vni: 1,
      port: 8472,
      localIp: 'fd00:56::11',
      mac: derivedVtepMac('node-a', 'flannel-v6'),
      mtu: 1430,
      address: 'fd00:10:244:1::/128',
      learning: false,
      gbp: false,
    });
    expect(state.routes.get('fd00:10:244:2::/64')).toEqual({
      dst: 'fd00:10:244:2::/64',
      via: 'fd00:10:244:2::',
      dev: 'flannel-v6.1',
      onlink: true,
    });
    expect([...state.neighbours.values()]).toContainEqual({
      dev: 'flannel-v6.1',
      ip: 'fd00:10:244:2::',
      lladdr: MAC_B6,
    });
    expect([...state.fdb.values()]).toContainEqual({ dev: 'flannel-v6.1', mac: MAC_B6, dst: 'fd00:57::12' });
    // flannel's masquerade and forward rules for the IPv6 network, in ip6tables.
    const postrouting = state.chains.get('ipv6/nat/FLANNEL-POSTRTG')!;
    expect(postrouting.rules).toContain(
      '-s fd00:10:244::/56 ! -d ff00::/8 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
    );
    expect(state.chains.get('ipv6/filter/FLANNEL-FWD')!.rules).toEqual([
      '-s fd00:10:244::/56 -m comment --comment "flanneld forward" -j ACCEPT',
      '-d fd00:10:244::/56 -m comment --comment "flanneld forward" -j ACCEPT',
    ]);
  });

  it('without EnableIPv6 the overlay is IPv4 only, whatever IPv6 the nodes have', () => {
    const p = new NetworkPlanner();
    p.upsert(dualNode('node-a', 1));
    p.upsert(dualNode('node-b', 2));
    const state = nodeStateOf(p.planNode('node-a'));
    expect([...state.devices.keys()]).toEqual(['flannel.1']);
    expect([...state.routes.keys()]).toEqual(['10.244.2.0/24']);
  });
});
