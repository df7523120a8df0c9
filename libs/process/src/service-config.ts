import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** What every Netledger process reads from its environment, validated once at start. */
export interface ServiceConfig {
  readonly name: string;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly logJson: boolean;
  readonly databaseUrl: string | undefined;
  /** A file holding the database password (a mounted Secret), read at each new connection. */
  readonly databasePasswordFile: string | undefined;
  readonly kafkaBrokers: string | undefined;
  /** A Kafka consumer silent this long is replaced (see whenConsumerStops). */
  readonly kafkaConsumerStallMs: number;
  /** The HTTP server's certificate and key (PEM), as Kubernetes components take them; undefined: plain HTTP. */
  readonly tls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
}

const port = z.coerce.number().int().min(0).max(65535);

const schema = z.object({
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  HTTP_PORT: port.optional(),
  LOG_FORMAT: z.enum(['json', 'text']).default('json'),
  DATABASE_URL: z.string().min(1).optional(),
  DATABASE_PASSWORD_FILE: z.string().min(1).optional(),
  KAFKA_BROKERS: z.string().min(1).optional(),
  KAFKA_CONSUMER_STALL_MS: z.coerce.number().int().min(5000).max(3_600_000).default(60_000),
  HTTP_TLS_CERT_FILE: z.string().min(1).optional(),
  HTTP_TLS_KEY_FILE: z.string().min(1).optional(),
});

/** Reads and validates the environment; a bad value throws an error naming the variable. */
export function readServiceConfig(
  name: string,
  defaultPort: number,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ServiceConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`${name}: invalid environment: ${problems}`);
  }
  const e = parsed.data;
  if (!e.HTTP_TLS_CERT_FILE !== !e.HTTP_TLS_KEY_FILE)
    throw new Error(`${name}: HTTP_TLS_CERT_FILE and HTTP_TLS_KEY_FILE go together`);
  return {
    name,
    httpHost: e.HTTP_HOST,
    httpPort: e.HTTP_PORT ?? defaultPort,
    logJson: e.LOG_FORMAT === 'json',
    databaseUrl: e.DATABASE_URL,
    databasePasswordFile: e.DATABASE_PASSWORD_FILE,
    kafkaBrokers: e.KAFKA_BROKERS,
    kafkaConsumerStallMs: e.KAFKA_CONSUMER_STALL_MS,
    tls:
      e.HTTP_TLS_CERT_FILE && e.HTTP_TLS_KEY_FILE
        ? { cert: readFileSync(e.HTTP_TLS_CERT_FILE), key: readFileSync(e.HTTP_TLS_KEY_FILE) }
        : undefined,
  };
}
