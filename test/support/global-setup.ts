import type { TestProject } from 'vitest/node';
import { startTestcontainers, dockerReachable } from './testcontainers';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    kafkaBrokers: string;
  }
}

/**
 * Gives the int and e2e tiers a real PostgreSQL and a real Kafka:
 *  1. DATABASE_URL and KAFKA_BROKERS from the environment (what scripts/services started), else
 *  2. Testcontainers, when a Docker engine is reachable, else
 *  3. a clear error naming the command that starts the services.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const databaseUrl = process.env.DATABASE_URL;
  const kafkaBrokers = process.env.KAFKA_BROKERS;
  if (databaseUrl && kafkaBrokers) {
    project.provide('databaseUrl', databaseUrl);
    project.provide('kafkaBrokers', kafkaBrokers);
    return async () => {};
  }
  if (await dockerReachable()) {
    const started = await startTestcontainers();
    // The containers' broker has no TLS or SCRAM (scripts/services' has): said, not assumed.
    process.env.KAFKA_SECURITY = 'plaintext';
    project.provide('databaseUrl', started.databaseUrl);
    project.provide('kafkaBrokers', started.kafkaBrokers);
    return started.stop;
  }
  throw new Error(
    'These tests need PostgreSQL and Kafka. Start them with `scripts/services up`, then run with ' +
      '`eval "$(scripts/services env | sed s/^/export\\ /)"` (or simply `./scripts/test`), or make a Docker engine reachable for Testcontainers.',
  );
}
