/**
 * @netledger/process — a Netledger process's shell without NestJS: config from the environment,
 * readiness checks, Prometheus metrics, health over node:http, logging, retries. The executor runs
 * on it alone; @netledger/service builds the Nest apps' shell on it.
 */
export * from './service-config';
export * from './readiness';
export * from './metrics-registry';
export * from './logger';
export * from './status-server';
export * from './retry-until-done';
export * from './exit-on-signals';
