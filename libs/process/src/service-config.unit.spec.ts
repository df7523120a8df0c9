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
    });
    expect(config).toMatchObject({
      httpHost: '0.0.0.0',
      httpPort: 9000,
      logJson: false,
      kafkaBrokers: 'k:9092',
    });
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
