import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeStateOf, type NodePlan } from '../network-planner';
import { applyNodeDiff, nodeStatesEqual } from './diff';
import { diffNodePlans } from './plan-diff';
import {
  applyClusterOp,
  clusterOpArb,
  NODES,
  testHostFacts,
  testPlanner,
} from '../../../../test/support/cluster-ops';

describe('diffNodePlans', () => {
  it('applied to the old state gives the new state, after every step of random change sequences (1,000 cases)', () => {
    let incremental = 0;
    fc.assert(
      fc.property(
        fc.array(clusterOpArb, { minLength: 1, maxLength: 12 }),
        fc.boolean(),
        fc.boolean(),
        (ops, directRouting, dualStackOverlay) => {
          const planner = testPlanner(directRouting, dualStackOverlay);
          const names = Array.from({ length: NODES }, (_, n) => `node-${n}`);
          for (const name of names) planner.setHostFacts(name, testHostFacts(name));
          let plans = new Map<string, NodePlan>(names.map((n) => [n, planner.planNode(n)]));
          planner.takeChanges();
          for (const batch of [ops.slice(0, ops.length >> 1), ops.slice(ops.length >> 1)]) {
            for (const op of batch) applyClusterOp(planner, op);
            const changes = planner.takeChanges();
            const next = new Map<string, NodePlan>();
            for (const name of names) {
              const from = plans.get(name)!;
              const to = planner.planNode(name);
              const diff = diffNodePlans(from, to, changes);
              if (diff.chains.some((c) => c.op === 'edit' && c.chain === 'KUBE-SERVICES')) incremental++;
              expect(nodeStatesEqual(applyNodeDiff(nodeStateOf(from), diff), nodeStateOf(to))).toBe(true);
              next.set(name, to);
            }
            plans = next;
          }
        },
      ),
      { numRuns: 1000 },
    );
    // Most diffs above took the incremental path (rule edits at computed positions).
    expect(incremental).toBeGreaterThan(1000);
  });
});
