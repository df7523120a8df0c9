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
  /** TLS and SCRAM to the brokers; undefined only with KAFKA_SECURITY=plaintext. */
  readonly kafkaSecurity: KafkaSecurity | undefined;
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
  KAFKA_SECURITY: z.enum(['sasl_ssl', 'plaintext']).default('sasl_ssl'),
  KAFKA_CA_FILE: z.string().min(1).optional(),
  KAFKA_USERNAME: z.string().min(1).max(200).optional(),
  KAFKA_PASSWORD_FILE: z.string().min(1).optional(),
  HTTP_TLS_CERT_FILE: z.string().min(1).optional(),
  HTTP_TLS_KEY_FILE: z.string().min(1).optional(),
});

/** How a client proves who it is to Kafka, and checks the broker's certificate. */
export interface KafkaSecurity {
  /** The CA of the brokers' certificates (PEM). */
  readonly ca: Buffer;
  /** SCRAM-SHA-512: each component (each node's executor) its own user, allowed only its job. */
  readonly username: string;
  readonly password: string;
}

function kafkaSecurityOf(
  name: string,
  e: Pick<
    z.infer<typeof schema>,
    'KAFKA_SECURITY' | 'KAFKA_CA_FILE' | 'KAFKA_USERNAME' | 'KAFKA_PASSWORD_FILE'
  >,
): KafkaSecurity | undefined {
  if (e.KAFKA_SECURITY === 'plaintext') return undefined;
  if (!e.KAFKA_CA_FILE || !e.KAFKA_USERNAME || !e.KAFKA_PASSWORD_FILE)
    throw new Error(
      `${name}: Kafka takes TLS and SCRAM: set KAFKA_CA_FILE, KAFKA_USERNAME and KAFKA_PASSWORD_FILE (KAFKA_SECURITY=plaintext for a broker without them, a local try only)`,
    );
  return {
    ca: readFileSync(e.KAFKA_CA_FILE),
    username: e.KAFKA_USERNAME,
    password: readFileSync(e.KAFKA_PASSWORD_FILE, 'utf8').trim(),
  };
}

/** Kafka's security settings alone (tools and tests that make their own clients). */
export function readKafkaSecurity(
  env: Readonly<Record<string, string | undefined>> = process.env,
): KafkaSecurity | undefined {
  return kafkaSecurityOf('kafka', schema.parse(env));
}

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
    kafkaSecurity: e.KAFKA_BROKERS ? kafkaSecurityOf(name, e) : undefined,
    tls:
      e.HTTP_TLS_CERT_FILE && e.HTTP_TLS_KEY_FILE
        ? { cert: readFileSync(e.HTTP_TLS_CERT_FILE), key: readFileSync(e.HTTP_TLS_KEY_FILE) }
        : undefined,
  };
}
