/** @netledger/dataplane — host appliers and readers: Linux (iptables-restore, iproute2) and recording. */
export * from './command-runner';
export * from './host';
export * from './linux-host';
export * from './recording-host';
export * from './reconcile';
