import { z } from 'zod';

/** What every Netledger process reads from its environment, validated once at start. */
export interface ServiceConfig {
  readonly name: string;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly logJson: boolean;
  readonly databaseUrl: string | undefined;
  readonly kafkaBrokers: string | undefined;
  /** A Kafka consumer silent this long is replaced (see whenConsumerStops). */
  readonly kafkaConsumerStallMs: number;
}

const port = z.coerce.number().int().min(0).max(65535);

const schema = z.object({
  HTTP_HOST: z.string().min(1).default('127.0.0.1'),
  HTTP_PORT: port.optional(),
  LOG_FORMAT: z.enum(['json', 'text']).default('json'),
  DATABASE_URL: z.string().min(1).optional(),
  KAFKA_BROKERS: z.string().min(1).optional(),
  KAFKA_CONSUMER_STALL_MS: z.coerce.number().int().min(5000).max(3_600_000).default(60_000),
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
  return {
    name,
    httpHost: e.HTTP_HOST,
    httpPort: e.HTTP_PORT ?? defaultPort,
    logJson: e.LOG_FORMAT === 'json',
    databaseUrl: e.DATABASE_URL,
    kafkaBrokers: e.KAFKA_BROKERS,
    kafkaConsumerStallMs: e.KAFKA_CONSUMER_STALL_MS,
  };
}
