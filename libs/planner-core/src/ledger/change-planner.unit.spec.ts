import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_PROXY_CONFIG,
  EMPTY_NODE_STATE,
  kubeStreamId,
  type KubeObject,
  type RecordedEvent,
} from '@netledger/model';
import { NetworkPlanner, nodeStateOf } from '../network-planner';
import { nodeStatesEqual } from '../state/diff';
import { ChangePlanner } from './change-planner';
import { PlanBook } from './plan-book';
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

describe('ChangePlanner', () => {
  it('turns a scripted history into one change per batch that rebuilds every node from scratch', () => {
    const planner = new ChangePlanner(new NetworkPlanner(config));
    const reader = new PlanBook();
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
    const ports: string[][] = [];
    for (const [i, batch] of batches.entries()) {
      for (const e of batch) planner.apply(e);
      all.push(...batch);
      const planned = planner.commit()!;
      expect(planned.change.revision).toBe(i + 1);
      expect(planned.causes.map((c) => c.eventId)).toEqual(batch.map((e) => e.eventId));
      ports.push(planned.causes.flatMap((c) => c.ports));
      const bodies = new Map(planned.fragments.map((f) => [f.digest, f]));
      reader.apply(planned.change, (d) => bodies.get(d));
    }
    const scratch = new NetworkPlanner(config);
    const fresh = new ChangePlanner(scratch);
    for (const e of all) fresh.apply(e);
    for (const n of ['a', 'c'])
      expect(nodeStatesEqual(nodeStateOf(reader.planOf(n)!), nodeStateOf(scratch.planNode(n)))).toBe(true);
    // The node that left has no manifest any more.
    expect(reader.planOf('b')).toBeUndefined();
    expect(reader.nodeNames()).toEqual(['a', 'c']);
    // Each cause says what it changed: the slice update, the web service's one port.
    expect(ports[3]).toEqual(['default/web:p80']);
  });

  it('a replayed event changes nothing', () => {
    const planner = new ChangePlanner(new NetworkPlanner(config));
    const e = applied(node('x', '192.168.0.9', '10.244.9.0/24'));
    expect(planner.apply(e)).toBe(true);
    expect(planner.commit()?.change.revision).toBe(1);
    expect(planner.apply(e)).toBe(false);
    expect(planner.commit()).toBeUndefined();
  });

  it('after a restore over the book it had, goes on at the next revision and names only what changed', () => {
    const history = [
      applied(node('r1', '192.168.1.2', '10.244.11.0/24')),
      applied(node('r2', '192.168.1.3', '10.244.12.0/24')),
    ];
    const first = new ChangePlanner(new NetworkPlanner(config));
    for (const e of history) first.apply(e);
    first.commit();
    const book = new PlanBook({ revision: first.revision - 1 });
    book.apply(first.recorder.book.snapshot(), (d) => first.recorder.book.fragment(d));
    const restored = new ChangePlanner(new NetworkPlanner(config));
    restored.foldLatest(history);
    restored.resume(book, new Map(history.map((e) => [e.streamId, e.streamVersion])));
    expect(restored.commit()).toBeUndefined();
    restored.apply(applied(node('r3', '192.168.1.4', '10.244.13.0/24')));
    const next = restored.commit()!;
    expect(next.change.revision).toBe(2);
    expect(next.change.manifests.set.map((m) => m.node)).toEqual(['r3']);
    expect(next.change.peers.set.map(([peer]) => peer)).toEqual(['r3']);
    expect(nodeStatesEqual(nodeStateOf(book.planOf('r1')!), EMPTY_NODE_STATE)).toBe(false);
  });

  it('with verify, a restore compares the whole model with the book and records what the book lacks', () => {
    const history = [
      applied(node('v1', '192.168.2.2', '10.244.21.0/24')),
      applied(node('v2', '192.168.2.3', '10.244.22.0/24')),
    ];
    const first = new ChangePlanner(new NetworkPlanner(config));
    first.apply(history[0]!);
    first.commit();
    // A book that lacks v2 (as if its change had been lost), under a model that has it.
    const book = new PlanBook({ revision: first.revision - 1 });
    book.apply(first.recorder.book.snapshot(), (d) => first.recorder.book.fragment(d));
    const versions = new Map(history.map((e) => [e.streamId, e.streamVersion]));
    const verified = new ChangePlanner(new NetworkPlanner(config));
    verified.foldLatest(history);
    verified.resume(book, versions, true);
    const healed = verified.commit()!;
    expect(healed.change.manifests.set.map((m) => m.node)).toContain('v2');
    expect(book.nodeNames()).toEqual(['v1', 'v2']);
  });
});
