import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PROXY_CONFIG,
  EMPTY_NODE_STATE,
  kubeStreamId,
  type KubeObject,
  type NodeState,
  type RecordedEvent,
} from '@netledger/model';
import { NetworkPlanner, nodeStateOf } from '../network-planner';
import { applyNodeDiff, nodeStatesEqual } from '../state/diff';
import { RevisionPlanner } from './revision-planner';
import { node, service, slice } from '../../../../test/support/kube';

let position = 0;
const versions = new Map<string, number>();
function applied(object: KubeObject): RecordedEvent {
  const ns = object.kind === 'Node' ? undefined : object.namespace;
  const streamId = kubeStreamId(object.kind, ns, object.name);
  const v = (versions.get(streamId) ?? 0) + 1;
  versions.set(streamId, v);
  return {
    eventId: randomUUID(),
    type: 'KubeObjectApplied',
    schemaVersion: 2,
    data: { object },
    metadata: {},
    position: ++position,
    streamId,
    streamVersion: v,
    recordedAt: new Date(),
  };
}
function deleted(kind: 'Node' | 'Service' | 'EndpointSlice', namespace: string, name: string): RecordedEvent {
  const streamId = kubeStreamId(kind, kind === 'Node' ? undefined : namespace, name);
  const v = (versions.get(streamId) ?? 0) + 1;
  versions.set(streamId, v);
  return {
    eventId: randomUUID(),
    type: 'KubeObjectDeleted',
    schemaVersion: 1,
    data: { kind, namespace, name, inferred: false },
    metadata: {},
    position: ++position,
    streamId,
    streamVersion: v,
    recordedAt: new Date(),
  };
}

const config = { ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] };

describe('RevisionPlanner', () => {
  it('goes on with the revisions of a node that is removed and comes back', () => {
    const planner = new RevisionPlanner(new NetworkPlanner(config));
    planner.apply(applied(node('node-r', '198.18.0.21', '10.244.21.0/24')));
    expect(planner.commit().map((r) => [r.node, r.baseRevision, r.revision])).toEqual([['node-r', 0, 1]]);
    planner.apply(deleted('Node', '', 'node-r'));
    const removed = planner.commit();
    expect(removed.map((r) => [r.node, r.baseRevision, r.revision])).toEqual([['node-r', 1, 2]]);
    expect(nodeStatesEqual(removed[0]!.state(), EMPTY_NODE_STATE)).toBe(true);
    planner.apply(applied(node('node-r', '198.18.0.21', '10.244.21.0/24')));
    expect(planner.commit().map((r) => [r.node, r.baseRevision, r.revision])).toEqual([['node-r', 2, 3]]);
    expect(planner.revisionOf('node-r')).toBe(3);
  });

  it('turns a scripted history into revision chains that rebuild each node from scratch', () => {
    const planner = new RevisionPlanner(new NetworkPlanner(config));
    const applied1 = new Map<string, NodeState>();
    const chains = new Map<string, number[]>();
    const batches: RecordedEvent[][] = [
      [
        applied(node('a', '192.168.0.2', '10.244.1.0/24')),
        applied(node('b', '192.168.0.3', '10.244.2.0/24')),
      ],
      [
        applied(service('default', 'web', { clusterIP: '10.96.0.10' })),
        applied(
          slice('default', 'web-1', 'web', [{ name: 'p80', port: 80 }], [{ ip: '10.244.1.5', node: 'a' }]),
        ),
      ],
      [applied(node('c', '192.168.0.4', '10.244.3.0/24'))],
      [
        applied(
          slice(
            'default',
            'web-1',
            'web',
            [{ name: 'p80', port: 80 }],
            [
              { ip: '10.244.1.5', node: 'a' },
              { ip: '10.244.3.5', node: 'c' },
            ],
          ),
        ),
      ],
      [
        deleted('Node', '', 'b'),
        applied(
          service('default', 'api', {
            type: 'NodePort',
            clusterIP: '10.96.0.11',
            ports: [{ name: 'h', port: 80, nodePort: 30001 }],
            externalTrafficPolicy: 'Local',
          }),
        ),
      ],
      [deleted('Service', 'default', 'web')],
    ];
    const all: RecordedEvent[] = [];
    for (const batch of batches) {
      for (const e of batch) planner.apply(e);
      all.push(...batch);
      for (const r of planner.commit()) {
        const chain = chains.get(r.node) ?? [];
        expect(r.baseRevision).toBe(chain.at(-1) ?? 0);
        chain.push(r.revision);
        chains.set(r.node, chain);
        applied1.set(r.node, applyNodeDiff(applied1.get(r.node) ?? EMPTY_NODE_STATE, r.diff));
        expect(r.causation.length).toBeGreaterThan(0);
      }
    }
    // One revision per node per batch, numbered 1, 2, 3, ... without gaps.
    for (const chain of chains.values()) expect(chain).toEqual(chain.map((_, i) => i + 1));
    const scratch = new NetworkPlanner(config);
    const fresh = new RevisionPlanner(scratch);
    for (const e of all) fresh.apply(e);
    for (const n of ['a', 'c'])
      expect(nodeStatesEqual(applied1.get(n)!, nodeStateOf(scratch.planNode(n)))).toBe(true);
    // The node that left ends empty.
    expect(nodeStatesEqual(applied1.get('b')!, EMPTY_NODE_STATE)).toBe(true);
  });

  it('a replayed event changes nothing', () => {
    const planner = new RevisionPlanner(new NetworkPlanner(config));
    const e = applied(node('x', '192.168.0.9', '10.244.9.0/24'));
    expect(planner.apply(e)).toBe(true);
    expect(planner.commit()).toHaveLength(1);
    expect(planner.apply(e)).toBe(false);
    expect(planner.commit()).toEqual([]);
  });

  it('after restore, continues the revision chains without a duplicate or skipped revision', () => {
    const history = [
      applied(node('r1', '192.168.1.2', '10.244.11.0/24')),
      applied(node('r2', '192.168.1.3', '10.244.12.0/24')),
    ];
    const first = new RevisionPlanner(new NetworkPlanner(config));
    for (const e of history) first.apply(e);
    first.commit();
    const restored = new RevisionPlanner(new NetworkPlanner(config));
    restored.restore(
      history,
      new Map(history.map((e) => [e.streamId, e.streamVersion])),
      new Map([
        ['r1', 1],
        ['r2', 1],
      ]),
    );
    expect(restored.commit()).toEqual([]);
    restored.apply(applied(node('r3', '192.168.1.4', '10.244.13.0/24')));
    const next = restored.commit();
    expect(next.map((r) => [r.node, r.baseRevision, r.revision]).sort()).toEqual([
      ['r1', 1, 2],
      ['r2', 1, 2],
      ['r3', 0, 1],
    ]);
  });
});
