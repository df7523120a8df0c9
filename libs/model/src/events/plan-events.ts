import type { PlanChange } from '../plan/plan-change';

/*
 * What the planner records: one stream, `plan`, whose version is the plan revision. Each event is
 * one change of the whole plan (fragments replaced, table entries, peers, the manifests that
 * changed) and the cluster events that caused it: recorded once, not once per node. Fragment
 * bodies are stored once, by digest, beside the log (plan_fragments).
 */

export const PLAN_STREAM = 'plan';
export const PLAN_CHANGED = 'PlanChanged';
export const PLAN_EVENT_VERSIONS: ReadonlyMap<string, number> = new Map([[PLAN_CHANGED, 1]]);

/** A cluster event folded into a change, and what it changed in the model (for explain). */
export interface PlanCause {
  readonly eventId: string;
  readonly position: number;
  readonly streamId: string;
  /** Service ports it changed. */
  readonly ports: readonly string[];
  /** Nodes whose overlay entries or profile it changed. */
  readonly nodes: readonly string[];
  /** It changed everything (configuration, kube-proxy's large-cluster mode). */
  readonly all: boolean;
}

export interface PlanChanged {
  readonly change: PlanChange;
  readonly causes: readonly PlanCause[];
}
