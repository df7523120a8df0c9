/** @netledger/messaging — Kafka topics, clients, producers and consumers, and their codecs. */
export * from './kafka-client';
export * from './topics';
export * from './consumer-watch';
export * from './start-offsets';
export * from './kafka-outbox-publisher';
export * from './cluster-event-codec';
export * from './partitioning';
export * from './plan-messages';
export * from './plan-signatures';
