import {
  KUBE_OBJECT_APPLIED,
  KUBE_OBJECT_DELETED,
  type ConntrackDeletion,
  type KubeObject,
  type KubeObjectApplied,
  type KubeObjectDeleted,
  type PlanCause,
  type RecordedEvent,
} from '@netledger/model';
import type { ModelChanges, NetworkPlanner } from '../network-planner';
import { PlanBook } from './plan-book';
import { PlanRecorder, type RecordedChange } from './plan-recorder';

/** A batch's plan change and the cluster events that caused it. */
export interface PlannedChange extends RecordedChange {
  readonly causes: readonly PlanCause[];
}

/**
 * Folds cluster events into the model and turns each batch into at most one plan change (pure:
 * no I/O). Events are deduplicated by stream version, so replaying one changes nothing.
 */
export class ChangePlanner {
  readonly model: NetworkPlanner;
  private recording: PlanRecorder;
  private readonly streamVersions = new Map<string, number>();
  private causes: { event: RecordedEvent; changes: ModelChanges }[] = [];

  constructor(model: NetworkPlanner, book: PlanBook = new PlanBook()) {
    this.model = model;
    this.recording = new PlanRecorder(book);
  }

  /** What records the changes, over the book of the last one. */
  get recorder(): PlanRecorder {
    return this.recording;
  }

  /** The plan revision last recorded. */
  get revision(): number {
    return this.recording.book.revision;
  }

  /** The last version folded in per stream (what a restart must restore). */
  versions(): ReadonlyMap<string, number> {
    return this.streamVersions;
  }

  /**
   * A restart's first step: folds in the latest event of every stream the last change was made
   * from. Needs no book, so a caller can read the book meanwhile (and fold slice by slice).
   */
  foldLatest(latest: readonly RecordedEvent[]): void {
    for (const event of latest) this.apply(event);
    this.causes = [];
  }

  /** Plans the nodes (each once; later calls find the plans the model keeps). */
  planNodes(nodes: readonly string[]): void {
    for (const node of nodes) {
      this.model.kubeProxy.planNode(node);
      this.model.planNode6(node);
    }
  }

  /**
   * A restart's second step: goes on from `book`, which holds the change the folded events made.
   * With `verify`, the next commit compares the whole model with the book (and records what
   * differs); otherwise the model is taken to be what the book holds, which it is by construction
   * (both are stored in one transaction), and a restart does not pay for a whole comparison.
   */
  resume(book: PlanBook, versions: ReadonlyMap<string, number>, verify = false): void {
    this.recording = new PlanRecorder(book);
    for (const [stream, version] of versions) this.streamVersions.set(stream, version);
    this.causes = [];
    if (verify) return;
    this.model.takeChanges();
    this.recording.assumeRecorded(this.model);
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

  /** This batch's change, recorded in the book; undefined when the plan did not change. */
  commit(): PlannedChange | undefined {
    const causes = this.causes;
    this.causes = [];
    // Changes no event caused (configuration, host facts) count too.
    const changes = merge([...causes.map((c) => c.changes), this.model.takeChanges()]);
    const recorded = this.recording.record(this.model, changes);
    if (!recorded) return undefined;
    return {
      ...recorded,
      causes: causes.map(({ event, changes: c }) => ({
        eventId: event.eventId,
        position: event.position,
        streamId: event.streamId,
        ports: [...c.ports],
        nodes: [...c.nodes],
        all: c.all,
      })),
    };
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
