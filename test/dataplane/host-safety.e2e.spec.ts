import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  DEFAULT_OVERLAY_CONFIG,
  DEFAULT_PROXY_CONFIG,
  EMPTY_NODE_STATE,
  type NodeState,
} from '@netledger/model';
import { encodePlanChange, PlanAssembler } from '@netledger/messaging';
import {
  diffNodeStates,
  NetworkPlanner,
  nodeStateOf,
  ownsChain,
  PlanRecorder,
} from '@netledger/planner-core';
import {
  asHostPrints,
  driftCount,
  hostCommands,
  LinuxHost,
  reconcileDiff,
  type CommandRunner,
} from '@netledger/dataplane';
import { NodeExecutor } from '../../apps/executor/src/execution/node-executor';
import { canUseNetns, TestNamespace } from '../support/netns';
import { node, service, slice } from '../support/kube';

/*
 * What the executor's host may and may not touch, on a real kernel (a network namespace this test
 * makes and removes): chains of others stay, a rule is deleted by its text, and a new VTEP MAC
 * keeps the neighbour entries the kernel flushes with it.
 */
describe.skipIf(!canUseNetns)('the host touches only what it owns (network namespace)', () => {
  let ns: TestNamespace;
  let host: LinuxHost;
  let desired: NodeState = EMPTY_NODE_STATE;
  const planner = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] });
  const save = () => ns.exec('iptables-save', []);
  const natRules = (chain: string) =>
    save()
      .split('\n')
      .filter((l) => l.startsWith(`-A ${chain} `));

  beforeAll(async () => {
    ns = new TestNamespace('safe');
    host = new LinuxHost({
      netns: ns.name,
      device: () => 'flannel.1',
      ownsRoute: (r) => r.dst.startsWith('10.244.'),
      ownsChain: (c, family) => ownsChain(desired, c, family),
    });
    ns.exec('ip', ['link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1']);
    ns.exec('ip', ['addr', 'add', '198.18.0.11/24', 'dev', 'u0']);
    ns.exec('ip', ['link', 'set', 'u0', 'up']);
    planner.upsert(node('node-a', '198.18.0.11', '10.244.1.0/24'));
    planner.upsert(node('node-b', '198.18.0.12', '10.244.2.0/24'));
    planner.upsert(node('node-c', '198.18.0.13', '10.244.3.0/24'));
    // Ten services: KUBE-SERVICES is long enough to be changed by rule edits.
    for (let i = 0; i < 10; i++) {
      planner.upsert(service('default', `web${i}`, { clusterIP: `10.96.0.${10 + i}` }));
      planner.upsert(
        slice(
          'default',
          `web${i}-1`,
          `web${i}`,
          [{ name: 'p80', port: 8080 }],
          [{ ip: `10.244.2.${i + 5}` }],
        ),
      );
    }
    desired = nodeStateOf(planner.planNode('node-a'));
    await host.apply(diffNodeStates(EMPTY_NODE_STATE, desired), EMPTY_NODE_STATE);
  });
  afterAll(() => ns?.remove());

  it("leaves kubelet's canary, kube-proxy's canary and another agent's chain and jump alone", async () => {
    for (const table of ['filter', 'nat', 'mangle'])
      ns.exec('iptables', ['-t', table, '-N', 'KUBE-KUBELET-CANARY']);
    ns.exec('iptables', ['-t', 'nat', '-N', 'KUBE-PROXY-CANARY']);
    ns.exec('iptables', ['-N', 'OTHER-AGENT']);
    ns.exec('iptables', ['-A', 'OTHER-AGENT', '-s', '198.18.0.99', '-j', 'DROP']);
    ns.exec('iptables', ['-I', 'INPUT', '1', '-j', 'OTHER-AGENT']);
    const actual = await host.read();
    const diff = reconcileDiff(actual, desired);
    expect(driftCount(diff)).toBe(0);
    await host.apply(diff, actual);
    const text = save();
    expect(text.match(/^:KUBE-KUBELET-CANARY /gm)).toHaveLength(3);
    expect(text).toMatch(/^:KUBE-PROXY-CANARY /m);
    expect(text).toMatch(/^-A INPUT -j OTHER-AGENT$/m);
    expect(text).toMatch(/^-A OTHER-AGENT -s 198.18.0.99\/32 -j DROP$/m);
  });

  it('deletes the rule it means, by its text, when the chain was edited behind its back', async () => {
    const before = desired;
    const rules = natRules('KUBE-SERVICES');
    // Someone deletes the first rule of KUBE-SERVICES; the next plan drops web7.
    ns.exec('iptables', ['-t', 'nat', '-D', 'KUBE-SERVICES', '1']);
    planner.remove('Service', 'default', 'web7');
    desired = nodeStateOf(planner.planNode('node-a'));
    const diff = diffNodeStates(before, desired);
    expect(diff.chains.find((c) => c.chain === 'KUBE-SERVICES')?.op).toBe('edit');
    await host.apply(diff, before);
    // By position, the rule after web7's would have gone instead; by text, only web7's went.
    expect(natRules('KUBE-SERVICES')).toEqual(rules.slice(1).filter((r) => !r.includes('10.96.0.17/32')));
    // The drift the other party made is found and repaired.
    const actual = await host.read();
    const repair = reconcileDiff(actual, desired);
    expect(driftCount(repair)).toBe(1);
    await host.apply(repair, actual);
    expect(driftCount(reconcileDiff(await host.read(), desired))).toBe(0);
  });

  it('a new VTEP MAC keeps every neighbour entry on the device', async () => {
    const device = desired.devices.get('flannel.1')!;
    const neighbours = [...desired.neighbours.values()].filter((n) => n.dev === 'flannel.1');
    expect(neighbours.length).toBe(2);
    const after: NodeState = {
      ...desired,
      devices: new Map([['flannel.1', { ...device, mac: '0e:00:00:00:00:42' }]]),
    };
    await host.apply(diffNodeStates(desired, after), desired);
    desired = after;
    const read = await host.read();
    expect(read.devices.get('flannel.1')?.mac).toBe('0e:00:00:00:00:42');
    expect([...read.neighbours.keys()].sort()).toEqual([...asHostPrints(after).neighbours.keys()].sort());
    expect(driftCount(reconcileDiff(read, after))).toBe(0);
  });

  it('a new VNI: a reconcile brings the new device and deletes the old one with its routes, neighbours and FDB entries', async () => {
    const withVni2 = new NetworkPlanner(
      { ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] },
      { ...DEFAULT_OVERLAY_CONFIG, vni: 2 },
    );
    withVni2.upsert(node('node-a', '198.18.0.11', '10.244.1.0/24'));
    withVni2.upsert(node('node-b', '198.18.0.12', '10.244.2.0/24'));
    withVni2.upsert(node('node-c', '198.18.0.13', '10.244.3.0/24'));
    const next = nodeStateOf(withVni2.planNode('node-a'));
    expect([...next.devices.keys()]).toEqual(['flannel.2']);
    // Not a diff: the executor reconciling the host with a plan it was given whole (a resync).
    const host2 = new LinuxHost({
      netns: ns.name,
      device: () => 'flannel.2',
      ownsRoute: (r) => r.dst.startsWith('10.244.'),
      ownsChain: (c, family) => ownsChain(next, c, family),
    });
    const actual = await host2.read();
    expect([...actual.devices.keys()].sort()).toEqual(['flannel.1']);
    await host2.apply(reconcileDiff(actual, next), actual);
    expect(
      ns
        .exec('ip', ['-o', 'link', 'show'])
        .match(/flannel\.\d+/g)
        ?.sort(),
    ).toEqual(['flannel.2']);
    expect(ns.exec('ip', ['route', 'show', '10.244.2.0/24'])).toContain('dev flannel.2');
    expect(driftCount(reconcileDiff(await host2.read(), next))).toBe(0);
  });
});

/*
 * The executor's retries on a real kernel: a host whose `ip -batch` fails halfway through a
 * change (after iptables-restore went through) ends at the desired state, and one that keeps
 * failing leaves the revision pending until it recovers.
 */
describe.skipIf(!canUseNetns)('an apply that fails halfway (network namespace)', () => {
  let ns: TestNamespace;
  const failing = new Set<string>();
  let calls = 0;
  let injected = 0;

  beforeAll(() => {
    ns = new TestNamespace('fault');
    ns.exec('ip', ['link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1']);
    ns.exec('ip', ['addr', 'add', '198.18.0.11/24', 'dev', 'u0']);
    ns.exec('ip', ['link', 'set', 'u0', 'up']);
  });
  afterAll(() => ns?.remove());

  it('finishes from what the host holds, and a pending revision converges once the host recovers', async () => {
    const real = hostCommands(ns.name);
    // Fails the named programs' writes (reads go through), as a host under another agent's lock would.
    const run: CommandRunner = async (program, args, input) => {
      calls++;
      if (failing.has(program) && input !== undefined) {
        injected++;
        throw new Error(`injected: ${program} failed`);
      }
      return real(program, args, input);
    };
    // The host asks the executor what it owns; the executor is made with the host.
    const owner: { x?: NodeExecutor } = {};
    const host = new LinuxHost({
      netns: ns.name,
      run,
      device: () => owner.x!.overlayDevice() ?? 'flannel.1',
      ownsRoute: (r) => owner.x!.ownsRoute(r.dst),
      ownsChain: (c, family) => owner.x!.ownsChain(c, family),
    });
    const x = new NodeExecutor({
      node: 'node-a',
      host,
      loadSnapshot: async () => undefined,
      onApplied: async () => undefined,
      report: async () => undefined,
      backoffMs: 5,
      maxBackoffMs: 50,
    });
    owner.x = x;
    const model = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] });
    const recorder = new PlanRecorder();
    const next = () => {
      const { change, fragments } = recorder.record(model, model.takeChanges())!;
      return new PlanAssembler('node-a').add(
        encodePlanChange(change, fragments, Number.POSITIVE_INFINITY)[0]!.value,
      )!;
    };
    const matches = async () =>
      driftCount(reconcileDiff(await host.read(), recorder.book.stateOf('node-a'))) === 0;

    model.upsert(node('node-a', '198.18.0.11', '10.244.1.0/24'));
    model.upsert(node('node-b', '198.18.0.12', '10.244.2.0/24'));
    model.upsert(service('default', 'web', { clusterIP: '10.96.0.10' }));
    model.upsert(slice('default', 'web-1', 'web', [{ name: 'p80', port: 8080 }], [{ ip: '10.244.2.5' }]));
    await x.start();
    await x.handle(next());
    expect(x.appliedRevision).toBe(1);
    expect(await matches()).toBe(true);

    // A node joins (overlay entries) and the service changes (rules): iptables-restore goes
    // through, the first `ip -batch` fails; the retry reads the host and finishes the change.
    model.upsert(node('node-c', '198.18.0.13', '10.244.3.0/24'));
    model.upsert(slice('default', 'web-1', 'web', [{ name: 'p80', port: 8080 }], [{ ip: '10.244.3.5' }]));
    failing.add('ip');
    const failUntil = calls + 3;
    const healing = setInterval(() => calls >= failUntil && failing.delete('ip'), 1);
    await x.handle(next());
    clearInterval(healing);
    expect(injected).toBeGreaterThan(0);
    expect(x.appliedRevision).toBe(2);
    expect(await matches()).toBe(true);

    // Now every write fails for longer than the retries last: the revision stays pending.
    failing.add('ip').add('iptables-restore');
    model.remove('Node', '', 'node-b');
    await x.handle(next());
    expect(x.appliedRevision).toBe(2);
    expect(x.notReady).toMatch(/revision 3 failed: .*injected/);
    failing.clear();
    await vi.waitFor(() => expect(x.appliedRevision).toBe(3), { timeout: 5000 });
    expect(x.notReady).toBeUndefined();
    expect(await matches()).toBe(true);
    x.stop();
  });
});
