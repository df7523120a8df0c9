import { readKafkaSecurity } from '@netledger/process';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { inject } from 'vitest';
import { createKafka, parseBrokers } from '@netledger/messaging';
import type { Kafka } from 'kafkajs';

/** A unique, lower-case suffix for names that tests must not share (databases, topics, groups). */
export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

/** The Kafka brokers the test run was given (see global-setup.ts). */
export function kafkaBrokers(): string[] {
  return parseBrokers(inject('kafkaBrokers'));
}

/** A KafkaJS client on the test run's broker. */
export function testKafka(clientId = 'netledger-test'): Kafka {
  return createKafka({ brokers: kafkaBrokers(), clientId, security: readKafkaSecurity() });
}

/** A topic name that no other test uses. */
export function uniqueTopic(name: string): string {
  return `test.${name}.${uniqueSuffix()}`;
}

/**
 * Creates a database of its own for one test file and returns its URL and a drop function. Tests
 * never see each other's rows, and LISTEN/NOTIFY channels (scoped to a database) stay apart too.
 */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const base = inject('databaseUrl');
  const name = `nl_test_${uniqueSuffix()}`;
  const admin = new Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new Client({ connectionString: base });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
