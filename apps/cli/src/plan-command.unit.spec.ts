import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from './main';

const fixtures = join(__dirname, '..', '..', '..', 'test', 'fixtures');
const f = (name: string) => join(fixtures, name);

function writeTemp(text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'netledger-cli-')), 'host.json');
  writeFileSync(path, text);
  return path;
}

function cli(...argv: string[]): { status: number; out: string; err: string } {
  let out = '';
  let err = '';
  const status = run(
    argv,
    (s) => (out += s),
    (s) => (err += s),
  );
  return { status, out, err };
}

describe('netledger plan', () => {
  it("prints a node's iptables as iptables-save will show them, built-in chains' jumps included, from a kubectl List, kube-proxy config and host facts", () => {
    const r = cli(
      'plan',
      '--cluster',
      f('cluster.yaml'),
      '--node',
      'node-a',
      '--proxy-config',
      f('kube-proxy-config.yaml'),
      '--host',
      f('host.json'),
    );
    expect(r.err).toBe('');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^\*filter\n/);
    expect(r.out).toContain(
      '-A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP\n',
    );
    // localhostNodePorts: false in the KubeProxyConfiguration
    expect(r.out).toContain(
      '-A KUBE-SERVICES ! -d 127.0.0.0/8 -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS\n',
    );
    // How traffic enters Netledger's chains: the jumps from the built-in chains.
    expect(r.out).toContain(
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n',
    );
    expect(r.out).toMatch(/-A INPUT [^\n]*-j KUBE-PROXY-FIREWALL\n-A INPUT [^\n]*-j KUBE-NODEPORTS\n/);
    expect(r.out).toContain(
      '-A KUBE-EXT-2CMXP7HKUVJN7L6M -s 10.244.0.0/16 -m comment --comment "pod traffic for default/nginx external destinations" -j KUBE-SVC-2CMXP7HKUVJN7L6M\n',
    );
    expect(r.out).toContain(
      '-A KUBE-SVL-2CMXP7HKUVJN7L6M -m comment --comment "default/nginx -> 10.244.1.5:80" -j KUBE-SEP-IZW656N5ZXYN5BEC\n',
    );
    expect(r.out).toContain('MASQUERADE --random-fully\n');
    expect(r.out.trim().endsWith('COMMIT')).toBe(true);
  });

  it('prints the iptables-restore input kube-proxy writes, without the built-in jumps, when asked', () => {
    const r = cli(
      ...['plan', '--cluster', f('cluster.yaml'), '--node', 'node-a', '--output', 'iptables-restore'],
      ...['--proxy-config', f('kube-proxy-config.yaml'), '--host', f('host.json')],
    );
    expect(r.status).toBe(0);
    // kube-proxy's own argument order (iptables-save prints it differently).
    expect(r.out).toContain('-m addrtype --dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS\n');
    expect(r.out).not.toMatch(/^-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) /m);
  });

  it('differs on a node without the local endpoint (externalTrafficPolicy Local)', () => {
    const r = cli(
      'plan',
      '--cluster',
      f('cluster.yaml'),
      '--node',
      'node-b',
      '--proxy-config',
      f('kube-proxy-config.yaml'),
    );
    expect(r.out).toContain(
      '-A KUBE-SVL-2CMXP7HKUVJN7L6M -m comment --comment "default/nginx -> 10.244.2.7:80" -j KUBE-SEP-66LGOVHJ4OIBFECU\n',
    );
    expect(r.out).not.toContain('-> 10.244.1.5:80" -j KUBE-SEP-IZW656N5ZXYN5BEC\n-A KUBE-SVL');
  });

  it('prints JSON with the release it matches', () => {
    const r = cli('plan', '--cluster', f('cluster.yaml'), '--node', 'node-a', '--output', 'json');
    const json = JSON.parse(r.out) as {
      kubeProxyRelease: string;
      state: { chains: { chain: string; rules: string[] }[]; routes: unknown[] };
    };
    expect(json.kubeProxyRelease).toBe('v1.37');
    expect(json.state.chains.find((c) => c.chain === 'KUBE-MARK-MASQ')!.rules).toEqual([
      '-j MARK --or-mark 0x4000',
    ]);
    expect(json.state.routes).toEqual([
      { dst: '10.244.2.0/24', via: '10.244.2.0', dev: 'flannel.1', onlink: true },
    ]);
  });

  it("prints kube-proxy's IPv6 rules of a dual-stack cluster as ip6tables, and both families in JSON", () => {
    const plan = (output: string) =>
      cli('plan', '--cluster', f('dual-stack-cluster.yaml'), '--node', 'node-a', '--output', output);
    const v6 = plan('ip6tables');
    expect(v6.status).toBe(0);
    expect(v6.out).toContain(
      '-d fd00:10:96::10/128 -p tcp -m comment --comment "default/web:http cluster IP"',
    );
    expect(v6.out).toContain('--to-destination [fd00:10:244:2::5]:8080');
    // No localhost NodePorts in IPv6: the tail rule leaves ::1 out.
    expect(v6.out).toContain('! -d ::1/128');
    expect(v6.out).not.toContain('10.96.0.10');
    const restore = plan('ip6tables-restore');
    expect(restore.out).toContain(
      '-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d fd00:10:96::10 --dport 80',
    );
    const v4 = plan('iptables');
    expect(v4.out).toContain('10.96.0.10');
    expect(v4.out).not.toContain('fd00:');
    const json = JSON.parse(plan('json').out) as {
      ipv6: { chains: { table: string; chain: string; rules: string[] }[] };
    };
    const services = json.ipv6.chains.find((c) => c.table === 'nat' && c.chain === 'KUBE-SERVICES')!;
    expect(services.rules.some((r) => r.includes('-d fd00:10:96::10'))).toBe(true);
  });

  it('writes the rules of an older kube-proxy when asked (--kube-proxy-version), and refuses others', () => {
    const host = writeTemp('{"iptables": {"randomFully": false}}');
    const plan = (...extra: string[]) =>
      cli('plan', '--cluster', f('cluster.yaml'), '--node', 'node-a', '--host', host, ...extra);
    // v1.37 writes --random-fully whatever the host's iptables says; v1.36 only where it has it.
    expect(plan().out).toContain('-j MASQUERADE --random-fully\n');
    const v136 = plan('--kube-proxy-version', 'v1.36', '--output', 'json');
    expect(JSON.parse(v136.out)).toMatchObject({ kubeProxyRelease: 'v1.36' });
    expect(v136.out).not.toContain('--random-fully');
    const old = plan('--kube-proxy-version', '1.29');
    expect(old.status).toBe(1);
    expect(old.err).toContain('expected one of v1.34, v1.35, v1.36, v1.37');
  });

  it('prints the overlay as ip and bridge batch lines, with net-conf.json', () => {
    const r = cli(
      'plan',
      '--cluster',
      f('cluster.yaml'),
      '--node',
      'node-a',
      '--net-conf',
      f('net-conf.json'),
      '--output',
      'iproute2',
    );
    expect(r.err).toBe('');
    expect(r.out).toContain(
      'link add flannel.1 type vxlan id 1 local 192.168.56.11 dstport 8472 nolearning\n',
    );
    expect(r.out).toMatch(/\nfdb replace [0-9a-f:]{17} dev flannel.1 dst 192.168.56.12 self permanent\n/);
    expect(r.out).toContain('route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink\n');
    const iptables = cli(
      'plan',
      '--cluster',
      f('cluster.yaml'),
      '--node',
      'node-a',
      '--net-conf',
      f('net-conf.json'),
    ).out;
    expect(iptables).toContain(':FLANNEL-POSTRTG - [0:0]\n');
    expect(iptables).toContain(
      '-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT\n',
    );
  });

  it('names every invalid object and field, and exits 1', () => {
    const r = cli('plan', '--cluster', f('invalid-cluster.yaml'), '--node', 'node-a');
    expect(r.status).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain('1 invalid object(s)');
    expect(r.err).toContain('Service default/web: spec.ports[0].protocol: "ICMP" is not TCP, UDP or SCTP');
    // A bad endpoint is left out of its slice (as kube-proxy leaves it out), and said so.
    expect(r.err).toContain(
      'warning: ' +
        f('invalid-cluster.yaml') +
        ': EndpointSlice default/web-1: endpoints[0] left out: addresses[0]: "10.0.0.1\\n-A INPUT -j ACCEPT" is not an IPv4 address',
    );
  });

  it('says which nodes exist when the node is unknown', () => {
    const r = cli('plan', '--cluster', f('cluster.yaml'), '--node', 'node-z');
    expect(r.status).toBe(1);
    expect(r.err).toContain('node "node-z" is not in');
    expect(r.err).toContain('(nodes: node-a, node-b)');
  });

  it('reports unreadable files, bad YAML, bad proxy config and usage errors', () => {
    expect(cli('plan', '--cluster', f('missing.yaml'), '--node', 'a').err).toMatch(
      /missing\.yaml: cannot read/,
    );
    expect(cli('plan', '--cluster', f('host.json'), '--node', 'a').err).toContain('node "a" is not in');
    expect(
      cli('plan', '--cluster', f('cluster.yaml'), '--node', 'node-a', '--proxy-config', f('host.json')).err,
    ).toContain('KubeProxyConfiguration');
    const usage = cli('plan', '--cluster', f('cluster.yaml'));
    expect(usage.status).toBe(2);
    expect(usage.err).toContain('plan needs --cluster and --node');
    expect(cli('plan', '--bogus').status).toBe(2);
    expect(cli('plan', '--cluster', f('cluster.yaml'), '--node', 'node-a', '--output', 'xml').err).toContain(
      'expected iptables, iptables-restore, ip6tables, ip6tables-restore, iproute2 or json',
    );
    expect(
      cli('plan', '--cluster', f('cluster.yaml'), '--node', 'node-a', '--net-conf', f('host.json')).err,
    ).toContain('net-conf.json: Network: required');
  });
});

describe('netledger diff', () => {
  it('prints the exact host operations between two cluster files', () => {
    const r = cli(
      'diff',
      '--from',
      f('cluster.yaml'),
      '--to',
      f('cluster-after.yaml'),
      '--node',
      'node-a',
      '--proxy-config',
      f('kube-proxy-config.yaml'),
    );
    expect(r.err).toBe('');
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toBe('# iptables-restore --noflush');
    expect(lines[1]).toBe('*nat');
    expect(r.out).toContain('-m comment --comment "default/nginx -> 10.244.2.9:80" -j KUBE-SEP-');
    expect(r.out).not.toContain('*filter');
    expect(lines.slice(lines.indexOf('# bridge -batch -'))).toEqual([
      '# bridge -batch -',
      'fdb replace 0a:58:0a:f4:03:00 dev flannel.1 dst 192.168.56.13 self permanent',
      '# ip -batch -',
      'neigh replace 10.244.3.0 lladdr 0a:58:0a:f4:03:00 dev flannel.1 nud permanent',
      'route replace 10.244.3.0/24 via 10.244.3.0 dev flannel.1 onlink',
    ]);
  });

  it('says when nothing changes, and needs --from, --to and --node', () => {
    expect(cli('diff', '--from', f('cluster.yaml'), '--to', f('cluster.yaml'), '--node', 'node-b').out).toBe(
      '# no change for node node-b\n',
    );
    expect(cli('diff', '--from', f('cluster.yaml'), '--node', 'node-b').status).toBe(2);
  });
});
