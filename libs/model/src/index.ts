/**
 * @netledger/model — the plain types Netledger reasons about and their validation at the edge:
 * Kubernetes objects (only the fields used), node state, events and their codecs. No I/O, no Nest.
 */
export * from './errors/netledger-error';
