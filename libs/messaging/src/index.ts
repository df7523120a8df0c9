/** @netledger/messaging — Kafka topics, clients, producers and consumers, and their codecs. */
export * from './kafka-client';
export * from './topics';
