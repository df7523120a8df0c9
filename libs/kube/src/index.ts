/** @netledger/kube — list/watch of Nodes, Services and EndpointSlices over @kubernetes/client-node. */
export * from './kube-config';
export * from './resources';
export * from './reflector';
