/** @netledger/event-store — the PostgreSQL event store, its migrations, subscriptions and outbox. */
export * from './pool';
export * from './migrations';
export * from './event-store';
export * from './subscription';
export * from './outbox-relay';
export * from './event-id';
export * from './plan-ledger';
