import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PROXY_CONFIG,
  EMPTY_NODE_STATE,
  encodeNodeState,
  type NodeSnapshot,
  type NodeState,
} from '@netledger/model';
import { diffNodeStates, NetworkPlanner, nodeStateOf, nodeStatesEqual } from '@netledger/planner-core';
import { asHostPrints, RecordingHost } from '@netledger/dataplane';
import { NodeExecutor, type ExecutorStatus } from './node-executor';
import { node, service, slice } from '../../../../test/support/kube';

/** Three successive desired states of node-a. */
function states(): NodeState[] {
  const p = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] });
  p.upsert(node('node-a', '198.18.0.11', '10.244.1.0/24'));
  p.upsert(node('node-b', '198.18.0.12', '10.244.2.0/24'));
  const s1 = nodeStateOf(p.planNode('node-a'));
  p.upsert(service('default', 'web', { clusterIP: '10.96.0.10' }));
  p.upsert(
    slice('default', 'web-1', 'web', [{ name: 'p80', port: 80 }], [{ ip: '10.244.2.5', node: 'node-b' }]),
  );
  const s2 = nodeStateOf(p.planNode('node-a'));
  p.remove('Node', '', 'node-b');
  const s3 = nodeStateOf(p.planNode('node-a'));
  return [EMPTY_NODE_STATE, s1, s2, s3];
}

function executor(snapshot?: NodeSnapshot) {
  const host = new RecordingHost();
  const reports: ExecutorStatus[] = [];
  const saved: number[] = [];
  const x = new NodeExecutor({
    node: 'node-a',
    host,
    loadSnapshot: async () => snapshot,
    saveRevision: async (r) => void saved.push(r),
    report: async (s) => void reports.push(s),
    backoffMs: 1,
  });
  return { x, host, reports, saved };
}

const rev = (s: NodeState[], n: number) => ({
  baseRevision: n - 1,
  revision: n,
  diff: diffNodeStates(s[n - 1]!, s[n]!),
});

describe('NodeExecutor', () => {
  it('applies revisions in order and remembers the revision', async () => {
    const s = states();
    const { x, host, saved } = executor();
    await x.start(0);
    for (const n of [1, 2, 3]) await x.handle(rev(s, n));
    expect(x.appliedRevision).toBe(3);
    expect(saved).toEqual([1, 2, 3]);
    expect(nodeStatesEqual(host.state, s[3]!)).toBe(true);
    // Read back as a host prints it (flannel's appended jumps included), it is what was applied.
    expect(await x.checkDrift()).toBe(0);
  });

  it('skips duplicates', async () => {
    const s = states();
    const { x, host } = executor();
    await x.start(0);
    await x.handle(rev(s, 1));
    await x.handle(rev(s, 2));
    const applied = host.log.length;
    await x.handle(rev(s, 1));
    await x.handle(rev(s, 2));
    expect(host.log.length).toBe(applied);
    expect(x.appliedRevision).toBe(2);
  });

  it('on a gap, reconciles the host with the latest snapshot, then goes on', async () => {
    const s = states();
    const { x, host } = executor({ node: 'node-a', revision: 2, state: encodeNodeState(s[2]!) });
    await x.start(0);
    // The start already brought it to the snapshot.
    expect(x.appliedRevision).toBe(2);
    expect(nodeStatesEqual(asHostPrints(host.state), asHostPrints(s[2]!))).toBe(true);
    await x.handle(rev(s, 3));
    expect(x.appliedRevision).toBe(3);
  });

  it('a revision from beyond a gap triggers a resync', async () => {
    const s = states();
    const snapshot: NodeSnapshot = { node: 'node-a', revision: 2, state: encodeNodeState(s[2]!) };
    const offer: { snapshot?: NodeSnapshot } = {};
    const host = new RecordingHost();
    const x = new NodeExecutor({
      node: 'node-a',
      host,
      loadSnapshot: async () => offer.snapshot,
      saveRevision: async () => {},
      report: async () => {},
    });
    await x.start(0);
    await x.handle(rev(s, 1));
    offer.snapshot = snapshot;
    await x.handle(rev(s, 3)); // based on 2, the host has 1
    expect(x.appliedRevision).toBe(3);
  });

  it('retries a failed apply, reconciling from what the host holds, and reports the error meanwhile', async () => {
    const s = states();
    const { x, host, reports } = executor();
    await x.start(0);
    await x.handle(rev(s, 1));
    host.fail = 2;
    await x.handle(rev(s, 2));
    expect(x.appliedRevision).toBe(2);
    expect(reports.some((r) => r.lastError === 'injected failure')).toBe(true);
    expect(reports.at(-1)!.lastError).toBeNull();
    expect(nodeStatesEqual(asHostPrints(host.state), asHostPrints(s[2]!))).toBe(true);
  });

  it('finds drift, repairs it, and reports it', async () => {
    const s = states();
    const { x, host, reports } = executor();
    await x.start(0);
    await x.handle(rev(s, 1));
    await x.handle(rev(s, 2));
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
    expect(nodeStatesEqual(host.state, asHostPrints(s[2]!))).toBe(true);
    expect(await x.checkDrift()).toBe(0);
    expect(reports.at(-1)!.drift).toMatchObject({ found: 2, repaired: 2 });
  });
});
