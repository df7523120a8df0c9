import { z } from 'zod';

/** The ingester's own settings (beside the shared ServiceConfig), from its environment. */
export interface IngesterSettings {
  readonly kubeconfig: string | undefined;
  readonly topicPrefix: string;
  readonly clusterEventsPartitions: number;
  /** Retention of netledger.cluster-events; the event store keeps everything regardless. */
  readonly clusterEventsRetentionMs: number;
}

const schema = z.object({
  KUBECONFIG: z.string().min(1).optional(),
  NETLEDGER_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/)
    .default('netledger'),
  CLUSTER_EVENTS_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(12),
  CLUSTER_EVENTS_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .default(7 * 24 * 3600_000),
});

export function readIngesterSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
): IngesterSettings {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `ingester: invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return {
    kubeconfig: parsed.data.KUBECONFIG,
    topicPrefix: parsed.data.NETLEDGER_TOPIC_PREFIX,
    clusterEventsPartitions: parsed.data.CLUSTER_EVENTS_PARTITIONS,
    clusterEventsRetentionMs: parsed.data.CLUSTER_EVENTS_RETENTION_MS,
  };
}

export const INGESTER_SETTINGS = Symbol('INGESTER_SETTINGS');
