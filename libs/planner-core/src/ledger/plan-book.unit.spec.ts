import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_OVERLAY_CONFIG,
  EMPTY_NODE_STATE,
  isNetledgerError,
  parseFragment,
  parsePlanChange,
  type FragmentKind,
  type NodeState,
  type OverlayConfig,
  type PlanChange,
} from '@netledger/model';
import {
  applyClusterOp,
  clusterOpArb,
  NODES,
  testHostFacts,
  testPlanner,
  type ClusterOp,
} from '../../../../test/support/cluster-ops';
import { type NetworkPlanner, nodeStateOf } from '../network-planner';
import { applyNodeDiff, nodeStatesEqual } from '../state/diff';
import type { FragmentValue } from './fragments';
import { applyForNode } from './node-change';
import { PlanBook } from './plan-book';
import { PlanRecorder, type RecordedChange } from './plan-recorder';

const names = Array.from({ length: NODES }, (_, n) => `node-${n}`);

function planner(ops: readonly ClusterOp[], directRouting = false, dualStackOverlay = false): NetworkPlanner {
  const p = testPlanner(directRouting, dualStackOverlay);
  for (const name of names) p.setHostFacts(name, testHostFacts(name));
  for (const op of ops) applyClusterOp(p, op);
  return p;
}

/** A change as a consumer gets it: through JSON and the model's validation. */
function overTheWire(recorded: RecordedChange): {
  change: PlanChange;
  bodies: Map<string, { kind: FragmentKind; value: FragmentValue }>;
} {
  const change = parsePlanChange(JSON.parse(JSON.stringify(recorded.change)));
  const bodies = new Map(
    recorded.fragments.map((f) => [
      f.digest,
      { kind: f.kind, value: parseFragment(f.kind, JSON.parse(f.json)) as FragmentValue },
    ]),
  );
  return { change, bodies };
}

const stateOf = (book: PlanBook, node: string): NodeState => book.stateOf(node);

const scratchState = (model: NetworkPlanner, node: string): NodeState =>
  model.nodeNames().includes(node) ? nodeStateOf(model.planNode(node)) : EMPTY_NODE_STATE;

describe('PlanBook and PlanRecorder', () => {
  it('resolve every node to its from-scratch plan after each batch of random changes, on the planner, a reader and each executor (300 cases)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(clusterOpArb, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.boolean(),
        (batches, directRouting, dualStackOverlay) => {
          const model = planner([], directRouting, dualStackOverlay);
          model.takeChanges();
          const recorder = new PlanRecorder();
          const reader = new PlanBook();
          const executors = new Map(names.map((n) => [n, new PlanBook({ only: n })]));
          const hostStates = new Map(names.map((n) => [n, EMPTY_NODE_STATE]));
          const done: ClusterOp[] = [];
          for (const batch of batches) {
            for (const op of batch) applyClusterOp(model, op);
            done.push(...batch);
            const recorded = recorder.record(model, model.takeChanges());
            if (recorded) {
              const { change, bodies } = overTheWire(recorded);
              reader.apply(change, (d) => bodies.get(d));
              for (const [node, book] of executors) {
                const { diff } = applyForNode(book, change, node, (d) => bodies.get(d));
                hostStates.set(node, applyNodeDiff(hostStates.get(node)!, diff));
              }
            }
            const scratch = planner(done, directRouting, dualStackOverlay);
            for (const node of names) {
              const want = scratchState(scratch, node);
              expect(nodeStatesEqual(stateOf(recorder.book, node), want)).toBe(true);
              expect(nodeStatesEqual(stateOf(reader, node), want)).toBe(true);
              expect(nodeStatesEqual(stateOf(executors.get(node)!, node), want)).toBe(true);
              expect(nodeStatesEqual(hostStates.get(node)!, want)).toBe(true);
            }
            // Nothing new to say right after a change.
            expect(recorder.record(model, model.takeChanges())).toBeUndefined();
          }
          expect(reader.revision).toBe(recorder.book.revision);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('holds each fragment once, however many nodes take it, and lets go of what nothing names', () => {
    const ops: ClusterOp[] = [
      ...names.map((_, n): ClusterOp => ({ kind: 'node', n, ipSuffix: 0, zone: 0 })),
      { kind: 'service', s: 0, type: 'ClusterIP', local: false, itpLocal: false },
      { kind: 'slice', s: 0, endpoints: [{ host: 1, node: 0, ready: true, terminating: false, hint: 0 }] },
      { kind: 'service', s: 1, type: 'NodePort', local: false, itpLocal: false },
    ];
    const model = planner(ops);
    const recorder = new PlanRecorder();
    const first = recorder.record(model, model.takeChanges())!;
    // One table, one fixed-rules fragment, two service ports, one peer fragment per node.
    expect(recorder.book.stats()).toEqual({
      fragments: 1 + 2 + NODES,
      tables: 1,
      nodes: NODES,
      peers: NODES,
    });
    expect(first.fragments).toHaveLength(1 + 2 + NODES);
    expect(first.change.manifests.set).toHaveLength(NODES);

    // An endpoint change: one new fragment, one table entry, and no node's manifest.
    applyClusterOp(model, {
      kind: 'slice',
      s: 0,
      endpoints: [
        { host: 1, node: 0, ready: true, terminating: false, hint: 0 },
        { host: 2, node: 1, ready: true, terminating: false, hint: 0 },
      ],
    });
    const second = recorder.record(model, model.takeChanges())!.change;
    expect(second.fragments).toHaveLength(1);
    expect(second.tables).toEqual([
      { key: expect.any(String), set: [['ns/svc-0:http', second.fragments[0]]], delete: [] },
    ]);
    expect(second.manifests).toEqual({ set: [], overrides: [], delete: [] });
    expect(recorder.book.stats().fragments).toBe(1 + 2 + NODES);

    applyClusterOp(model, { kind: 'deleteService', s: 0 });
    applyClusterOp(model, { kind: 'deleteService', s: 1 });
    recorder.record(model, model.takeChanges());
    expect(recorder.book.stats()).toMatchObject({ fragments: 1 + NODES, tables: 1 });
  });

  it('snapshots to a change that rebuilds the book, or one node of it with no other node’s manifest', () => {
    const ops: ClusterOp[] = [
      ...names.map((_, n): ClusterOp => ({ kind: 'node', n, ipSuffix: 0, zone: 0 })),
      { kind: 'service', s: 2, type: 'LoadBalancer', local: true, itpLocal: false },
      {
        kind: 'slice',
        s: 2,
        endpoints: [
          { host: 1, node: 0, ready: true, terminating: false, hint: 0 },
          { host: 2, node: 3, ready: true, terminating: false, hint: 0 },
        ],
      },
    ];
    const model = planner(ops);
    const recorder = new PlanRecorder();
    recorder.record(model, model.takeChanges());
    const source = (d: string) => recorder.book.fragment(d);
    const whole = new PlanBook({ revision: recorder.book.revision - 1 });
    whole.apply(recorder.book.snapshot(), source);
    const one = new PlanBook({ revision: recorder.book.revision - 1, only: 'node-3' });
    const view = recorder.book.snapshot('node-3');
    expect(view.manifests.set.map((m) => m.node)).toEqual(['node-3']);
    one.apply(view, source);
    for (const node of names)
      expect(nodeStatesEqual(stateOf(whole, node), scratchState(model, node))).toBe(true);
    expect(nodeStatesEqual(stateOf(one, 'node-3'), scratchState(model, 'node-3'))).toBe(true);
    expect(one.nodeNames()).toEqual(['node-3']);
  });

  it('goes on after a restart: a new recorder over a restored book names only what really changed', () => {
    const ops: ClusterOp[] = [
      ...names.map((_, n): ClusterOp => ({ kind: 'node', n, ipSuffix: 0, zone: 0 })),
      { kind: 'service', s: 3, type: 'NodePort', local: true, itpLocal: false },
      { kind: 'slice', s: 3, endpoints: [{ host: 4, node: 2, ready: true, terminating: false, hint: 0 }] },
    ];
    const before = planner(ops);
    const recorder = new PlanRecorder();
    recorder.record(before, before.takeChanges());
    const restored = new PlanBook({ revision: recorder.book.revision - 1 });
    restored.apply(recorder.book.snapshot(), (d) => recorder.book.fragment(d));

    const model = planner(ops);
    model.takeChanges();
    const again = new PlanRecorder(restored);
    expect(
      again.record(model, { ports: new Set(), nodes: new Set(), all: true, conntrack: [] }),
    ).toBeUndefined();
    applyClusterOp(model, { kind: 'deleteSlice', s: 3 });
    const change = again.record(model, model.takeChanges())!.change;
    expect(change.revision).toBe(2);
    expect(change.manifests.set).toEqual([]);
    expect(change.manifests.overrides.map((o) => o.node)).toEqual(['node-2']);
    for (const node of names)
      expect(nodeStatesEqual(stateOf(restored, node), scratchState(model, node))).toBe(true);
  });

  it('refuses a change out of order or naming a fragment it cannot resolve, and stays as it was', () => {
    const model = planner([{ kind: 'node', n: 0, ipSuffix: 0, zone: 0 }]);
    const recorded = new PlanRecorder().record(model, model.takeChanges())!;
    const book = new PlanBook();
    const gap = { ...recorded.change, revision: 2 };
    expect(() => book.apply(gap)).toThrow(expect.objectContaining({ code: 'PLAN.REVISION_GAP' }));
    let error: unknown;
    try {
      book.apply(recorded.change, () => undefined);
    } catch (e) {
      error = e;
    }
    expect(isNetledgerError(error, 'PLAN.MISSING_FRAGMENT')).toBe(true);
    expect(book.revision).toBe(0);
    expect(book.stats()).toEqual({ fragments: 0, tables: 0, nodes: 0, peers: 0 });
    // A fixed-rules digest given as a peer's fragment is refused too.
    const fixed = recorded.fragments.find((f) => f.kind === 'fixed')!;
    const wrong = {
      ...recorded.change,
      peers: { set: [['node-0', fixed.digest] as const], delete: [] },
    };
    const byDigest = new Map(recorded.fragments.map((f) => [f.digest, f]));
    expect(() => book.apply(wrong, (d) => byDigest.get(d))).toThrow(
      expect.objectContaining({ code: 'PLAN.WRONG_FRAGMENT_KIND' }),
    );
    expect(book.revision).toBe(0);
    // Overrides of a node without a manifest, or of one the same change deletes, are refused.
    const held = new PlanBook();
    held.apply(recorded.change, (d) => byDigest.get(d));
    const patch = {
      node: 'node-0',
      set: [['default/svc:http', fixed.digest] as [string, string]],
      delete: [],
    };
    const noManifest = { node: 'node-9', set: patch.set, delete: [] };
    for (const [overrides, deleted] of [
      [noManifest, []],
      [patch, ['node-0']],
    ] as const) {
      const orphan: PlanChange = {
        revision: 2,
        tables: [],
        dropTables: [],
        peers: { set: [], delete: [] },
        manifests: { set: [], delete: [...deleted], overrides: [overrides] },
        conntrack: [],
        fragments: [],
      };
      expect(() => held.apply(orphan)).toThrow(expect.objectContaining({ code: 'PLAN.NO_SUCH_NODE' }));
    }
    expect(held.revision).toBe(1);
    expect(held.nodeNames()).toEqual(['node-0']);
    expect(book.stats()).toEqual({ fragments: 0, tables: 0, nodes: 0, peers: 0 });
  });

  it('says the overlay configuration at the first change and when it changes', () => {
    const model = planner([{ kind: 'node', n: 0, ipSuffix: 0, zone: 0 }]);
    const recorder = new PlanRecorder();
    const first = recorder.record(model, model.takeChanges())!.change;
    expect(first.overlayConfig).toEqual(model.overlay.planNode('').config);
    const vni: OverlayConfig = { ...DEFAULT_OVERLAY_CONFIG, vni: 7 };
    model.overlay.setConfig(vni);
    const second = recorder.record(model, model.takeChanges())!.change;
    expect(second.overlayConfig).toEqual(vni);
    expect(second.manifests.set.map((m) => m.overlay?.device.name)).toEqual(['flannel.7']);
  });
});
