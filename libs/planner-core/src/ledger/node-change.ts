import type { NodeDiff, PlanChange } from '@netledger/model';
import type { ModelChanges } from '../network-planner';
import { diffNodeStates } from '../state/diff';
import { diffNodePlans } from '../state/plan-diff';
import { planState, type FragmentSource, type PlanBook } from './plan-book';

/**
 * Moves `book` on by `change` and returns what it changes on `node`: the diff that node's
 * executor applies, computed from the plans before and after (O(changes)), with the change's
 * conntrack cleanup when the node is in the plan (kube-proxy cleans conntrack on every node,
 * whether its rules changed or not), and what the change changed for the node as the model
 * would say it (PlanBook.nodeChanges). Throws, with the book unmoved, as PlanBook.apply does.
 */
export function applyForNode(
  book: PlanBook,
  change: PlanChange,
  node: string,
  source?: FragmentSource,
): { diff: NodeDiff; changes: ModelChanges } {
  const before = book.planOf(node);
  const changes = book.nodeChanges(change, node);
  book.apply(change, source);
  const after = book.planOf(node);
  const diff =
    before && after
      ? diffNodePlans(before, after, changes)
      : diffNodeStates(planState(before), planState(after));
  return {
    diff: after && changes.conntrack.length > 0 ? { ...diff, conntrack: changes.conntrack } : diff,
    changes,
  };
}
