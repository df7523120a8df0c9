/** @netledger/service — the process shell the four apps share: config, health, metrics, start and stop. */
export { readServiceConfig, retryUntilDone, type ServiceConfig } from '@netledger/process';
export * from './health';
export * from './metrics';
export * from './dependencies';
export * from './service.module';
export * from './run-service';
export * from './tokens';
export * from './event-store.module';
export * from './outbox-relay.module';
