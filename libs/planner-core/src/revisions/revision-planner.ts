import {
  EMPTY_NODE_STATE,
  isEmptyDiff,
  KUBE_OBJECT_APPLIED,
  KUBE_OBJECT_DELETED,
  type KubeObject,
  type KubeObjectApplied,
  type ConntrackDeletion,
  type KubeObjectDeleted,
  type NodeDiff,
  type NodeState,
  type RecordedEvent,
} from '@netledger/model';
import { type NetworkPlanner, nodeStateOf, type ModelChanges, type NodePlan } from '../network-planner';
import { diffNodeStates } from '../state/diff';
import { diffNodePlans } from '../state/plan-diff';

/** One new revision of one node. */
export interface NodeRevision {
  readonly node: string;
  readonly baseRevision: number;
  readonly revision: number;
  readonly diff: NodeDiff;
  /** The cluster events of the batch that touched this node. */
  readonly causation: readonly RecordedEvent[];
  /** The node's full state at this revision, materialised on demand. */
  state(): NodeState;
  /** A cheap upper estimate of the encoded state's size, to decide before materialising it. */
  readonly estimatedStateBytes: number;
}

interface NodeTrack {
  plan: NodePlan | undefined;
  revision: number;
}

interface Cause {
  readonly event: RecordedEvent;
  readonly changes: ModelChanges;
}

/**
 * Folds cluster events into the model and turns each batch into at most one revision per node
 * whose desired state changed (pure: no I/O). Events are deduplicated by stream version, so
 * replaying one changes nothing.
 */
export class RevisionPlanner {
  readonly model: NetworkPlanner;
  private readonly streamVersions = new Map<string, number>();
  private readonly nodes = new Map<string, NodeTrack>();
  private causes: Cause[] = [];

  constructor(model: NetworkPlanner) {
    this.model = model;
  }

  /** The last version folded in per stream (what a restart must restore). */
  versions(): ReadonlyMap<string, number> {
    return this.streamVersions;
  }

  /**
   * Rebuilds after a restart: folds in the latest event of every stream the last committed
   * revisions were made from, and takes each node's last revision as published, without making
   * revisions. A node in the model without a revision yet gets its first one at the next commit.
   */
  restore(
    latest: readonly RecordedEvent[],
    versions: ReadonlyMap<string, number>,
    nodeRevisions: ReadonlyMap<string, number>,
  ): void {
    for (const event of latest) this.apply(event);
    for (const [stream, version] of versions) this.streamVersions.set(stream, version);
    this.causes = [];
    this.model.takeChanges();
    this.nodes.clear();
    for (const [node, revision] of nodeRevisions) {
      this.nodes.set(node, {
        plan: this.model.kubeProxy.getNode(node) ? this.model.planNode(node) : undefined,
        revision,
      });
    }
  }

  /** Folds one cluster event in; returns false when it was seen before (stream version not newer). */
  apply(event: RecordedEvent): boolean {
    const seen = this.streamVersions.get(event.streamId) ?? 0;
    if (event.streamVersion <= seen) return false;
    this.streamVersions.set(event.streamId, event.streamVersion);
    if (event.type === KUBE_OBJECT_APPLIED) {
      this.model.upsert((event.data as KubeObjectApplied).object as KubeObject);
    } else if (event.type === KUBE_OBJECT_DELETED) {
      const d = event.data as KubeObjectDeleted;
      this.model.remove(d.kind, d.namespace, d.name);
    } else {
      return true;
    }
    this.causes.push({ event, changes: this.model.takeChanges() });
    return true;
  }

  /** Makes this batch's revisions: one per node whose state changed. */
  commit(): NodeRevision[] {
    const causes = this.causes;
    this.causes = [];
    // Changes no event caused (configuration, host facts) count too.
    const changes = merge([...causes.map((c) => c.changes), this.model.takeChanges()]);
    if (
      !changes.all &&
      changes.ports.size === 0 &&
      changes.nodes.size === 0 &&
      changes.conntrack.length === 0
    )
      return [];
    const revisions: NodeRevision[] = [];
    const present = new Set(this.model.nodeNames());
    const stats = this.model.kubeProxy.stats();
    // About 400 bytes per service port (its rules in shared chains and its own chains), 350 per
    // endpoint (a KUBE-SEP chain and its rule in the service chain), 250 per peer node.
    const estimatedStateBytes =
      20_000 + stats.servicePorts * 400 + stats.endpoints * 350 + present.size * 250;
    for (const node of new Set([...present, ...this.nodes.keys()])) {
      const track = this.nodes.get(node) ?? { plan: undefined, revision: 0 };
      const next = present.has(node) ? this.model.planNode(node) : undefined;
      let diff: NodeDiff;
      if (track.plan && next) diff = diffNodePlans(track.plan, next, changes);
      else if (next) diff = diffNodeStates(EMPTY_NODE_STATE, nodeStateOf(next));
      else if (track.plan) diff = diffNodeStates(nodeStateOf(track.plan), EMPTY_NODE_STATE);
      else continue;
      // kube-proxy cleans conntrack on every node, whether its rules changed or not.
      if (next && changes.conntrack.length > 0) diff = { ...diff, conntrack: changes.conntrack };
      const changed = !isEmptyDiff(diff);
      const revision = changed ? track.revision + 1 : track.revision;
      // A removed node keeps its revision: its stream goes on if the node comes back.
      this.nodes.set(node, { plan: next, revision });
      if (!changed) continue;
      const previous = track.plan;
      revisions.push({
        node,
        baseRevision: track.revision,
        revision,
        diff,
        causation: causesFor(node, causes, changes, previous, next),
        state: () => (next ? nodeStateOf(next) : EMPTY_NODE_STATE),
        estimatedStateBytes: next ? estimatedStateBytes : 0,
      });
    }
    return revisions;
  }

  /** The revision each node is at. */
  revisionOf(node: string): number {
    return this.nodes.get(node)?.revision ?? 0;
  }
}

function merge(all: readonly ModelChanges[]): ModelChanges {
  const ports = new Set<string>();
  const nodes = new Set<string>();
  let everything = false;
  const conntrack: ConntrackDeletion[] = [];
  for (const c of all) {
    for (const p of c.ports) ports.add(p);
    for (const n of c.nodes) nodes.add(n);
    everything ||= c.all;
    conntrack.push(...c.conntrack);
  }
  return { ports, nodes, all: everything, conntrack };
}

const fragmentOf = (plan: NodePlan | undefined, port: string) =>
  plan?.kubeProxy.overrides.get(port) ?? plan?.kubeProxy.services.fragments.get(port);

/** The events of the batch whose changes reach this node's state. */
function causesFor(
  node: string,
  causes: readonly Cause[],
  changes: ModelChanges,
  from: NodePlan | undefined,
  to: NodePlan | undefined,
): RecordedEvent[] {
  if (changes.all || !from || !to) return causes.map((c) => c.event);
  const ports = new Set([...changes.ports].filter((p) => fragmentOf(from, p) !== fragmentOf(to, p)));
  return (
    causes
      // A node change reaches every node (its overlay entries, or its own profile).
      .filter(
        (c) => c.changes.all || c.changes.nodes.size > 0 || [...c.changes.ports].some((p) => ports.has(p)),
      )
      .map((c) => c.event)
  );
}
