import type { NodeDiff } from '../state/node-state';
import type { NodeStateJson } from '../state/node-state-codec';

/*
 * What the planner records, one stream per node (`node/<name>`, stream version = revision): each
 * revision's diff from the one before, and the cluster events that caused it.
 */

export const NODE_STATE_CHANGED = 'NodeStateChanged';
export const NODE_EVENT_VERSIONS: ReadonlyMap<string, number> = new Map([[NODE_STATE_CHANGED, 1]]);

/**
 * A revision. The diff itself is content-addressed (`diffDigest`): one change usually gives
 * thousands of nodes the same diff, which is stored once (node_diff_bodies) and sent once per
 * node-diffs partition, ahead of the nodes' own messages.
 */
export interface NodeStateChanged {
  readonly node: string;
  readonly baseRevision: number;
  readonly revision: number;
  readonly diffDigest: string;
  /** The cluster events this revision folds in (ids and global positions), for audit and "explain". */
  readonly causation: { readonly eventIds: readonly string[]; readonly positions: readonly number[] };
}

/** A revision with its diff resolved. */
export interface NodeRevisionWithDiff extends Omit<NodeStateChanged, 'diffDigest'> {
  readonly diff: NodeDiff;
}

/** A node's full desired state at a revision (node-snapshots, and the API). */
export interface NodeSnapshot {
  readonly node: string;
  readonly revision: number;
  readonly state: NodeStateJson;
}

export const nodeStreamId = (node: string) => `node/${node}`;
