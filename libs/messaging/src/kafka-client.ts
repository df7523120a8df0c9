import { Kafka, logLevel, type KafkaConfig, type LogEntry } from 'kafkajs';

/** How to reach Kafka. `brokers` comes from KAFKA_BROKERS (comma separated host:port). */
export interface KafkaSettings {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** TLS (the brokers' CA) and SASL/SCRAM-SHA-512 credentials; undefined: plaintext. */
  readonly security?:
    { readonly ca: Buffer; readonly username: string; readonly password: string } | undefined;
}

/** Parses a KAFKA_BROKERS value; throws a clear error on an empty or malformed list. */
export function parseBrokers(value: string | undefined): string[] {
  const brokers = (value ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  if (brokers.length === 0) throw new Error('KAFKA_BROKERS is empty: give host:port[,host:port...]');
  for (const broker of brokers) {
    const match = /^([A-Za-z0-9.\-[\]:]+):(\d{1,5})$/.exec(broker);
    if (!match || Number(match[2]) < 1 || Number(match[2]) > 65535) {
      throw new Error(`KAFKA_BROKERS: '${broker}' is not host:port`);
    }
  }
  return brokers;
}

type Logger = (level: 'error' | 'warn' | 'info' | 'debug', message: string, extra: object) => void;

/** A KafkaJS client whose log lines go to `log` (KafkaJS's own logger prints raw JSON). */
export function createKafka(
  settings: KafkaSettings,
  log?: Logger,
  overrides: Partial<KafkaConfig> = {},
): Kafka {
  return new Kafka({
    clientId: settings.clientId,
    brokers: [...settings.brokers],
    logLevel: logLevel.WARN,
    retry: { initialRetryTime: 100, retries: 8 },
    ...(settings.security
      ? {
          ssl: { ca: [settings.security.ca] },
          sasl: {
            mechanism: 'scram-sha-512' as const,
            username: settings.security.username,
            password: settings.security.password,
          },
        }
      : {}),
    ...(log ? { logCreator: () => (entry: LogEntry) => forward(log, entry) } : {}),
    ...overrides,
  });
}

function forward(log: Logger, { level, log: entry }: LogEntry): void {
  const { message, ...extra } = entry;
  const mapped =
    level <= logLevel.ERROR
      ? 'error'
      : level === logLevel.WARN
        ? 'warn'
        : level === logLevel.INFO
          ? 'info'
          : 'debug';
  log(mapped, `kafkajs: ${message}`, extra);
}

/** Resolves when the cluster answers a metadata request (a readiness check). */
export async function kafkaReachable(kafka: Kafka): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.describeCluster();
  } finally {
    await admin.disconnect();
  }
}
