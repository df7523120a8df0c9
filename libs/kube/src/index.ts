/** @netledger/kube — list/watch of Nodes, Services and EndpointSlices over @kubernetes/client-node. */
export {};
