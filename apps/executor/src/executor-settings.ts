import { z } from 'zod';
import { isDns1123Subdomain } from '@netledger/model';

/** The executor's settings, from its environment. The node name is its identity. */
export interface ExecutorSettings {
  readonly node: string;
  /** Program this network namespace (tests, and hosts that run the executor outside it). */
  readonly netns: string | undefined;
  /** linux programs the host; recording only keeps the state in memory and logs the operations. */
  readonly backend: 'linux' | 'recording';
  readonly stateFile: string;
  readonly driftIntervalMs: number;
  readonly topicPrefix: string;
  readonly sessionTimeoutMs: number;
  /** The Netledger API: the plan snapshot to start from when joining late or after a gap (optional). */
  readonly api: { readonly url: string; readonly token: string | undefined } | undefined;
}

const schema = z.object({
  NODE_NAME: z.string().refine(isDns1123Subdomain, 'NODE_NAME must be the Kubernetes node name'),
  NETNS: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/)
    .optional(),
  EXECUTOR_BACKEND: z.enum(['linux', 'recording']).default('linux'),
  DRY_RUN: z.enum(['true', 'false']).default('false'),
  STATE_FILE: z.string().min(1).optional(),
  DRIFT_INTERVAL_MS: z.coerce.number().int().min(0).default(60_000),
  NETLEDGER_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/)
    .default('netledger'),
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).max(300_000).default(30_000),
  NETLEDGER_API: z.url({ protocol: /^https?$/, error: 'NETLEDGER_API must be an http(s) URL' }).optional(),
  NETLEDGER_TOKEN: z.string().optional(),
});

export function readExecutorSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ExecutorSettings {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `executor: invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const e = parsed.data;
  return {
    node: e.NODE_NAME,
    netns: e.NETNS,
    backend: e.DRY_RUN === 'true' ? 'recording' : e.EXECUTOR_BACKEND,
    stateFile: e.STATE_FILE ?? `/var/lib/netledger/executor-${e.NODE_NAME}.json`,
    driftIntervalMs: e.DRIFT_INTERVAL_MS,
    topicPrefix: e.NETLEDGER_TOPIC_PREFIX,
    sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
    api: e.NETLEDGER_API ? { url: e.NETLEDGER_API, token: e.NETLEDGER_TOKEN || undefined } : undefined,
  };
}
