import { describe, expect, it, vi } from 'vitest';
import { DEFAULT_PROXY_CONFIG, type NodeState, type PlanChange } from '@netledger/model';
import {
  encodePlanChange,
  PlanAssembler,
  type FragmentJson,
  type ReceivedChange,
} from '@netledger/messaging';
import {
  NetworkPlanner,
  nodeStateOf,
  nodeStatesEqual,
  PlanRecorder,
  type NetworkPlanner as Model,
} from '@netledger/planner-core';
import { asHostPrints, RecordingHost } from '@netledger/dataplane';
import { NodeExecutor, type ExecutorStatus } from './node-executor';
import { node, service, slice } from '../../../../test/support/kube';

interface Step {
  readonly change: ReceivedChange;
  /** node-a's state after it. */
  readonly state: NodeState;
  /** The snapshot an API would give for node-a after it. */
  readonly snapshot: ReceivedChange;
}

/** A change as the executor gets it: encoded as on the plan topic, put together and validated. */
function received(change: PlanChange, fragments: readonly FragmentJson[]): ReceivedChange {
  const assembler = new PlanAssembler('node-a');
  return encodePlanChange(change, fragments)
    .map((m) => assembler.add(m.value))
    .at(-1)!;
}

/** Three plan changes, as the planner records them, and node-a's state after each. */
function steps(): Step[] {
  const model: Model = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] });
  const recorder = new PlanRecorder();
  const out: Step[] = [];
  const take = () => {
    const recorded = recorder.record(model, model.takeChanges())!;
    const book = recorder.book;
    const snapshot = book.snapshot('node-a');
    const json = (d: string) => {
      const { kind, value } = book.fragment(d)!;
      return { digest: d, kind, json: JSON.stringify(value) };
    };
    out.push({
      change: received(recorded.change, recorded.fragments),
      state: nodeStateOf(book.planOf('node-a')!),
      snapshot: received(snapshot, snapshot.fragments.map(json)),
    });
  };
  model.upsert(node('node-a', '198.18.0.11', '10.244.1.0/24'));
  model.upsert(node('node-b', '198.18.0.12', '10.244.2.0/24'));
  take();
  model.upsert(service('default', 'web', { clusterIP: '10.96.0.10' }));
  model.upsert(
    slice('default', 'web-1', 'web', [{ name: 'p80', port: 80 }], [{ ip: '10.244.2.5', node: 'node-b' }]),
  );
  take();
  model.remove('Node', '', 'node-b');
  take();
  return out;
}

function executor(offer: { snapshot?: ReceivedChange } = {}, options: { maxBackoffMs?: number } = {}) {
  const host = new RecordingHost();
  const reports: ExecutorStatus[] = [];
  const saved: number[] = [];
  const asked = { snapshots: 0 };
  const x = new NodeExecutor({
    node: 'node-a',
    host,
    loadSnapshot: async () => {
      asked.snapshots++;
      return offer.snapshot;
    },
    onApplied: async (r) => void saved.push(r),
    report: async (s) => void reports.push(s),
    backoffMs: 1,
    ...options,
  });
  return { x, host, reports, saved, asked };
}

/** An executor that started with nothing to catch up on (an empty plan topic). */
async function started(offer: { snapshot?: ReceivedChange } = {}, options: { maxBackoffMs?: number } = {}) {
  const e = executor(offer, options);
  await e.x.start();
  await e.x.converge('caught up');
  return e;
}

describe('NodeExecutor', () => {
  it('applies each change as its own node’s diff and remembers the revision', async () => {
    const s = steps();
    const { x, host, saved } = await started();
    for (const step of s) await x.handle(step.change);
    expect(x.appliedRevision).toBe(3);
    // The empty topic gave no state for node-a: nothing was applied or saved before revision 1.
    expect(saved).toEqual([1, 2, 3]);
    expect(nodeStatesEqual(asHostPrints(host.state), asHostPrints(s[2]!.state))).toBe(true);
    // Read back as a host prints it (flannel's appended jumps included), it is what was applied.
    expect(await x.checkDrift()).toBe(0);
  });

  it('skips duplicates', async () => {
    const s = steps();
    const { x, host } = await started();
    await x.handle(s[0]!.change);
    await x.handle(s[1]!.change);
    const applied = host.applied;
    await x.handle(s[0]!.change);
    await x.handle(s[1]!.change);
    expect(host.applied).toBe(applied);
    expect(x.appliedRevision).toBe(2);
  });

  it('touches nothing while catching up, then brings the host to the plan once', async () => {
    const s = steps();
    const { x, host } = executor();
    await x.start();
    for (const step of s) expect(await x.fold(step.change)).toBe(true);
    expect(host.log).toEqual([]);
    expect(await x.checkDrift()).toBe(0); // never repairs towards a state it does not know complete
    expect(host.log).toEqual([]);
    await x.converge('caught up');
    expect(x.appliedRevision).toBe(3);
    expect(nodeStatesEqual(asHostPrints(host.state), asHostPrints(s[2]!.state))).toBe(true);
  });

  it('starts from the API’s snapshot, and folds only what comes after it', async () => {
    const s = steps();
    const { x, host } = executor({ snapshot: s[1]!.snapshot });
    await x.start();
    expect(x.bookRevision).toBe(2);
    expect(await x.fold(s[0]!.change)).toBe(true); // older: skipped
    await x.converge('caught up');
    expect(nodeStatesEqual(asHostPrints(host.state), asHostPrints(s[1]!.state))).toBe(true);
    await x.handle(s[2]!.change);
    expect(x.appliedRevision).toBe(3);
    expect(nodeStatesEqual(asHostPrints(host.state), asHostPrints(s[2]!.state))).toBe(true);
  });

  it('a change from beyond a gap resyncs from the snapshot; without one it leaves the host alone', async () => {
    const s = steps();
    const offer: { snapshot?: ReceivedChange } = {};
    const { x, host } = await started(offer);
    await x.handle(s[0]!.change);
    const before = host.state;
    await x.handle(s[2]!.change); // 2 is missing, no snapshot yet
    expect(x.appliedRevision).toBe(1);
    expect(host.state).toBe(before);
    offer.snapshot = s[2]!.snapshot;
    await x.resyncNow('test');
    expect(x.appliedRevision).toBe(3);
    expect(nodeStatesEqual(asHostPrints(host.state), asHostPrints(s[2]!.state))).toBe(true);
  });

  it('a change naming a fragment it never got resyncs instead of applying half of it', async () => {
    const s = steps();
    const offer: { snapshot?: ReceivedChange } = {};
    const { x, host } = await started(offer);
    await x.handle(s[0]!.change);
    const before = host.state;
    await x.handle({ change: s[1]!.change.change, fragments: new Map() });
    expect(host.state).toBe(before);
    expect(x.appliedRevision).toBe(1);
    offer.snapshot = s[1]!.snapshot;
    await x.handle({ change: s[1]!.change.change, fragments: new Map() });
    expect(x.appliedRevision).toBe(2);
    expect(nodeStatesEqual(asHostPrints(host.state), asHostPrints(s[1]!.state))).toBe(true);
  });

  it('retries a failed apply, reconciling from what the host holds, and reports the error meanwhile', async () => {
    const s = steps();
    const { x, host, reports } = await started();
    await x.handle(s[0]!.change);
    host.fail = 2;
    await x.handle(s[1]!.change);
    expect(x.appliedRevision).toBe(2);
    expect(reports.some((r) => r.lastError === 'injected failure')).toBe(true);
    expect(reports.at(-1)!.lastError).toBeNull();
    expect(nodeStatesEqual(asHostPrints(host.state), asHostPrints(s[1]!.state))).toBe(true);
  });

  it('never touches a host whose desired state it does not know: an empty topic, no snapshot', async () => {
    const s = steps();
    const { x, host } = executor();
    // What the node ran before a restart (a kube-proxy, or an earlier executor): it stays.
    host.state = s[1]!.state;
    await x.start();
    await x.converge('caught up');
    expect(host.log).toEqual([]);
    expect(host.state).toBe(s[1]!.state);
    expect(x.isConverged).toBe(false);
    expect(x.notReady).toMatch(/no desired state: plan revision 0 does not hold node node-a/);
    expect(await x.checkDrift()).toBe(0);
    expect(host.log).toEqual([]);
    // The first plan that holds the node brings the host to it.
    await x.handle(s[0]!.change);
    expect(x.notReady).toBeUndefined();
    expect(nodeStatesEqual(asHostPrints(host.state), asHostPrints(s[0]!.state))).toBe(true);
  });

  it('restarts from the plan kept on the node: no API, an empty topic, and nothing on the host changes', async () => {
    const s = steps();
    const first = await started();
    await first.x.handle(s[0]!.change);
    await first.x.handle(s[1]!.change);
    const held = first.x.heldPlan()!;
    const kept = new PlanAssembler('node-a').add(
      encodePlanChange(held.change, held.fragments, Number.POSITIVE_INFINITY)[0]!.value,
    )!;
    // The restart: the same host, no snapshot from anywhere, nothing on the topic.
    const { x, host, asked } = executor();
    host.state = first.host.state;
    const before = host.state;
    await x.start(kept);
    expect(x.bookRevision).toBe(2);
    // The topic goes on from the kept revision: the API is not asked for the whole plan.
    expect(asked.snapshots).toBe(0);
    await x.converge('caught up');
    expect(x.notReady).toBeUndefined();
    expect(x.appliedRevision).toBe(2);
    expect(nodeStatesEqual(asHostPrints(host.state), asHostPrints(before))).toBe(true);
    await x.handle(s[2]!.change);
    expect(nodeStatesEqual(asHostPrints(host.state), asHostPrints(s[2]!.state))).toBe(true);
  });

  it('a revision that keeps failing stays pending and is retried until the host takes it', async () => {
    const s = steps();
    const { x, host, reports } = await started({}, { maxBackoffMs: 20 });
    await x.handle(s[0]!.change);
    host.fail = 1_000; // the host refuses everything for now
    await x.handle(s[1]!.change);
    expect(x.appliedRevision).toBe(1);
    expect(x.notReady).toMatch(/revision 2 failed: injected failure/);
    expect(reports.at(-1)!.lastError).toBe('injected failure');
    // A drift check never "repairs" towards the state the failed revision left behind.
    const log = host.applied;
    expect(await x.checkDrift()).toBe(0);
    // The next change moves the plan on while the host still fails.
    await x.handle(s[2]!.change);
    expect(x.appliedRevision).toBe(1);
    expect(host.applied).toBe(log);
    host.fail = 0;
    await vi.waitFor(() => expect(x.appliedRevision).toBe(3), { timeout: 2000 });
    expect(x.notReady).toBeUndefined();
    expect(reports.at(-1)!.lastError).toBeNull();
    expect(nodeStatesEqual(asHostPrints(host.state), asHostPrints(s[2]!.state))).toBe(true);
    x.stop();
  });

  it('a change that does not resolve while catching up is a gap, not an exception', async () => {
    const s = steps();
    const { x, host } = executor();
    await x.start();
    expect(await x.fold(s[0]!.change)).toBe(true);
    expect(await x.fold({ change: s[1]!.change.change, fragments: new Map() })).toBe(false);
    expect(host.log).toEqual([]);
  });

  it('finds drift, repairs it, and reports it', async () => {
    const s = steps();
    const { x, host, reports } = await started();
    await x.handle(s[0]!.change);
    await x.handle(s[1]!.change);
    // Someone removes a route and flushes a chain behind the executor's back.
    const routes = new Map(host.state.routes);
    routes.delete('10.244.2.0/24');
    const chains = new Map(host.state.chains);
    chains.set('ipv4/nat/KUBE-SERVICES', { table: 'nat', chain: 'KUBE-SERVICES', rules: [] });
    host.state = {
      ...asHostPrints(host.state),
      routes,
      chains: new Map([...asHostPrints({ ...host.state, chains }).chains]),
    };
    expect(await x.checkDrift()).toBe(2);
    expect(nodeStatesEqual(host.state, asHostPrints(s[1]!.state))).toBe(true);
    expect(await x.checkDrift()).toBe(0);
    expect(reports.at(-1)!.drift).toMatchObject({ found: 2, repaired: 2 });
  });
});
