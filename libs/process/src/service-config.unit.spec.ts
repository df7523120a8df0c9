import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readServiceConfig } from './service-config';

describe('readServiceConfig', () => {
  it('uses the app default port and loopback when nothing is set', () => {
    expect(readServiceConfig('api', 8080, {})).toEqual({
      name: 'api',
      httpHost: '127.0.0.1',
      httpPort: 8080,
      logJson: true,
      databaseUrl: undefined,
      kafkaBrokers: undefined,
      kafkaConsumerStallMs: 60_000,
    });
  });

  it('reads the variables docker-compose.yml sets', () => {
    const config = readServiceConfig('planner', 8082, {
      HTTP_HOST: '0.0.0.0',
      HTTP_PORT: '9000',
      LOG_FORMAT: 'text',
      DATABASE_URL: 'postgres://a:b@c/d',
      KAFKA_BROKERS: 'k:9092',
      KAFKA_SECURITY: 'plaintext',
    });
    expect(config).toMatchObject({
      httpHost: '0.0.0.0',
      httpPort: 9000,
      logJson: false,
      kafkaBrokers: 'k:9092',
    });
  });

  it('takes Kafka with TLS and SCRAM unless plaintext is asked for, and the secrets from files', () => {
    expect(() => readServiceConfig('planner', 8082, { KAFKA_BROKERS: 'k:9092' })).toThrow(
      /planner: Kafka takes TLS and SCRAM: set KAFKA_CA_FILE, KAFKA_USERNAME and KAFKA_PASSWORD_FILE/,
    );
    const dir = mkdtempSync(join(tmpdir(), 'nl-config-'));
    writeFileSync(join(dir, 'ca.crt'), 'PEM');
    writeFileSync(join(dir, 'password'), 'secret\n');
    const config = readServiceConfig('planner', 8082, {
      KAFKA_BROKERS: 'k:9093',
      KAFKA_CA_FILE: join(dir, 'ca.crt'),
      KAFKA_USERNAME: 'netledger-planner',
      KAFKA_PASSWORD_FILE: join(dir, 'password'),
    });
    expect(config.kafkaSecurity).toEqual({
      ca: Buffer.from('PEM'),
      username: 'netledger-planner',
      password: 'secret',
    });
    expect(() => readServiceConfig('api', 8080, { HTTP_TLS_CERT_FILE: join(dir, 'ca.crt') })).toThrow(
      /HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE go together/,
    );
  });

  it('names the variable that is wrong', () => {
    expect(() => readServiceConfig('api', 8080, { HTTP_PORT: '70000' })).toThrow(
      /api: invalid environment: HTTP_PORT/,
    );
    expect(() => readServiceConfig('api', 8080, { LOG_FORMAT: 'xml' })).toThrow(/LOG_FORMAT/);
    expect(() => readServiceConfig('api', 8080, { KAFKA_CONSUMER_STALL_MS: '10' })).toThrow(
      /KAFKA_CONSUMER_STALL_MS/,
    );
  });
});
