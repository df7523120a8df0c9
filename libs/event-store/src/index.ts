/** @netledger/event-store — the PostgreSQL event store, its migrations, subscriptions and outbox. */
export * from './pool';
