import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const repo = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(repo, path), 'utf8');

interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | number>;
  ports?: string[];
}

/** Keeps docker-compose.yml honest against the scripts this machine runs instead of Docker. */
describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const apps = ['ingester', 'planner', 'executor', 'api'];
  const appsScript = read('scripts/apps');

  it('names postgres, kafka and every app', () => {
    expect(Object.keys(compose.services).sort()).toEqual([...apps, 'kafka', 'postgres'].sort());
  });

  it.each(apps)('%s is built from the Dockerfile with the variables and port the scripts use', (app) => {
    const service = compose.services[app]!;
    const env = service.environment!;
    if (app === 'executor') {
      // Its own image: the Dockerfile's executor stage, one bundled file with its own entry point.
      expect(service.build).toEqual({ context: '.', target: 'executor' });
      expect(env).not.toHaveProperty('APP');
    } else {
      expect(service.build).toBe('.');
      expect(env.APP).toBe(app);
    }
    for (const variable of ['DATABASE_URL', 'KAFKA_BROKERS', 'HTTP_PORT', 'HTTP_HOST', 'LOG_FORMAT']) {
      expect(env, variable).toHaveProperty(variable);
    }
    const scriptPort = new RegExp(`\\[${app}\\]=(\\d+)`).exec(appsScript)?.[1];
    expect(String(env.HTTP_PORT)).toBe(scriptPort);
    expect(service.ports).toEqual([`127.0.0.1:${scriptPort}:${scriptPort}`]);
    if (app === 'executor')
      expect(read('apps/executor/src/executor-daemon.ts')).toContain(
        `EXECUTOR_DEFAULT_PORT = ${scriptPort};`,
      );
    else expect(read(`apps/${app}/src/main.ts`)).toContain(`runService('${app}', ${scriptPort},`);
  });

  it('runs the Kafka release the services script fetches, and PostgreSQL 15', () => {
    const kafkaVersion = /<kafka.version>(.+)<\/kafka.version>/.exec(read('scripts/kafka/pom.xml'))?.[1];
    expect(compose.services.kafka!.image).toBe(`apache/kafka:${kafkaVersion}`);
    expect(compose.services.postgres!.image).toBe('postgres:15');
    const env = compose.services.postgres!.environment!;
    expect([env.POSTGRES_USER, env.POSTGRES_PASSWORD, env.POSTGRES_DB]).toEqual([
      'netledger',
      'netledger',
      'netledger',
    ]);
  });
});
