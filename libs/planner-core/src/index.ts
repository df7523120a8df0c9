/** @netledger/planner-core — pure functions from the cluster model to each node's desired state. */
export {};
