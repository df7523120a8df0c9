import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planCommand } from '../../apps/cli/src/plan-command';
import { canUseNetns, TestNamespace } from '../support/netns';

/*
 * The rules `netledger plan` prints for both families of a dual-stack cluster, applied with the
 * real iptables-restore and ip6tables-restore in a network namespace this test makes (a node with
 * a pod on its cni0 bridge, an IPv4 and an IPv6 address each), carry real traffic: the Service's
 * ClusterIP over IPv4 and over IPv6, and its NodePort on the node's IPv6 address.
 */
const CLUSTER = `
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Node
  metadata: {name: node-a}
  spec: {podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24, "fd00:10:244:1::/64"]}
  status:
    addresses:
    - {type: InternalIP, address: 198.18.0.11}
    - {type: InternalIP, address: "fd00:198:18::11"}
- apiVersion: v1
  kind: Service
  metadata: {namespace: default, name: web}
  spec:
    type: NodePort
    ipFamilies: [IPv4, IPv6]
    clusterIP: 10.96.0.10
    clusterIPs: [10.96.0.10, "fd00:10:96::10"]
    ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30080, protocol: TCP}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {namespace: default, name: web-v4, labels: {kubernetes.io/service-name: web}}
  addressType: IPv4
  ports: [{name: http, port: 8080, protocol: TCP}]
  endpoints: [{addresses: [10.244.1.12], nodeName: node-a, conditions: {ready: true}}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {namespace: default, name: web-v6, labels: {kubernetes.io/service-name: web}}
  addressType: IPv6
  ports: [{name: http, port: 8080, protocol: TCP}]
  endpoints: [{addresses: ["fd00:10:244:1::12"], nodeName: node-a, conditions: {ready: true}}]
`;

describe.skipIf(!canUseNetns)('a dual-stack Service on a real kernel, from the rules plan prints', () => {
  let node: TestNamespace;
  let pod: TestNamespace;
  let server: ChildProcess | undefined;
  const curl = (url: string) => {
    try {
      return node.exec('curl', ['-s', '-g', '--max-time', '3', url]);
    } catch {
      return 'FAILED';
    }
  };

  beforeAll(async () => {
    node = new TestNamespace('ds-node');
    pod = new TestNamespace('ds-pod');
    node.exec('ip', ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0-peer']);
    node.exec('ip', ['link', 'set', 'eth0-peer', 'up']);
    node.exec('ip', ['addr', 'add', '198.18.0.11/24', 'dev', 'eth0']);
    node.exec('ip', ['addr', 'add', 'fd00:198:18::11/64', 'dev', 'eth0', 'nodad']);
    node.exec('ip', ['link', 'set', 'eth0', 'up']);
    // A node has default routes: locally sent packets are routed before OUTPUT's DNAT sees them.
    node.exec('ip', ['route', 'add', 'default', 'via', '198.18.0.1', 'dev', 'eth0']);
    node.exec('ip', ['-6', 'route', 'add', 'default', 'via', 'fd00:198:18::1', 'dev', 'eth0']);
    node.exec('ip', ['link', 'add', 'cni0', 'type', 'bridge']);
    node.exec('ip', ['addr', 'add', '10.244.1.1/24', 'dev', 'cni0']);
    node.exec('ip', ['addr', 'add', 'fd00:10:244:1::1/64', 'dev', 'cni0', 'nodad']);
    node.exec('ip', ['link', 'set', 'cni0', 'up']);
    node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    node.exec('sysctl', ['-qw', 'net.ipv6.conf.all.forwarding=1']);
    node.exec('ip', ['link', 'add', 'veth-pod', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.name]);
    node.exec('ip', ['link', 'set', 'veth-pod', 'master', 'cni0', 'up']);
    pod.exec('ip', ['addr', 'add', '10.244.1.12/24', 'dev', 'eth0']);
    pod.exec('ip', ['addr', 'add', 'fd00:10:244:1::12/64', 'dev', 'eth0', 'nodad']);
    pod.exec('ip', ['link', 'set', 'eth0', 'up']);
    pod.exec('ip', ['route', 'add', 'default', 'via', '10.244.1.1']);
    pod.exec('ip', ['-6', 'route', 'add', 'default', 'via', 'fd00:10:244:1::1']);
    // One server on both families ('::' takes IPv4 too), answering with the family it was reached on.
    const script =
      "require('http').createServer((q, s) => s.end(q.socket.localAddress.includes('.') ? 'pod over IPv4' : 'pod over IPv6')).listen(8080, '::')";
    server = spawn('ip', ['netns', 'exec', pod.name, process.execPath, '-e', script], { stdio: 'ignore' });

    const dir = mkdtempSync(join(tmpdir(), 'nl-dual-'));
    const cluster = join(dir, 'cluster.yaml');
    writeFileSync(cluster, CLUSTER);
    const host = join(dir, 'host.json');
    writeFileSync(
      host,
      JSON.stringify({ interfaceAddresses: ['127.0.0.1/8', '198.18.0.11/24', 'fd00:198:18::11/64'] }),
    );
    const plan = (output: string) => planCommand({ cluster, node: 'node-a', host, output });
    node.exec('iptables-restore', ['--noflush'], plan('iptables'));
    node.exec('ip6tables-restore', ['--noflush'], plan('ip6tables'));
    // The server is up when it answers on its own address.
    for (let i = 0; i < 50 && curl('http://10.244.1.12:8080/') === 'FAILED'; i++)
      await new Promise((r) => setTimeout(r, 100));
  });

  afterAll(() => {
    server?.kill('SIGKILL');
    pod?.remove();
    node?.remove();
  });

  it('holds the IPv6 rules ip6tables-save prints back as plan --output ip6tables lists them', () => {
    const saved = node.exec('ip6tables-save', ['-t', 'nat']);
    expect(saved).toContain(
      '-A KUBE-SERVICES -d fd00:10:96::10/128 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80',
    );
    expect(saved).toMatch(
      /-A KUBE-SEP-\w+ -p tcp -m comment --comment "?default\/web:http"? -m tcp -j DNAT --to-destination \[fd00:10:244:1::12\]:8080/,
    );
  });

  it('reaches the ClusterIP over IPv4 and over IPv6, and the NodePort on the node IPv6 address', () => {
    expect(curl('http://10.96.0.10/')).toBe('pod over IPv4');
    expect(curl('http://[fd00:10:96::10]/')).toBe('pod over IPv6');
    expect(curl('http://[fd00:198:18::11]:30080/')).toBe('pod over IPv6');
  });
});
