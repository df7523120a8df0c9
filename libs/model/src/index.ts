/**
 * @netledger/model — the plain types Netledger reasons about and their validation at the edge:
 * Kubernetes objects (only the fields used), proxy configuration, host facts, node state, events
 * and their codecs. No I/O, no Nest.
 */
export * from './errors/netledger-error';
export * from './net/ip';
export * from './text/control-characters';
export * from './kube/names';
export * from './kube/objects';
export * from './kube/validate';
export * from './proxy/proxy-config';
export * from './proxy/host-facts';
export * from './proxy/net-conf';
export * from './state/node-state';
export * from './state/node-state-codec';
export * from './events/event-envelope';
export * from './events/cluster-events';
export * from './ingest/canonical-json';
export * from './ingest/ingest-decider';
export * from './plan/plan-change';
export * from './events/plan-events';
