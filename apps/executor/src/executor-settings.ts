import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { MAX_CHANGE_BYTES } from '@netledger/messaging';
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
  readonly api:
    | {
        readonly url: string;
        /** The token, read from NETLEDGER_TOKEN_FILE at each request when that is set. */
        readonly token: string | (() => string) | undefined;
        readonly ca: Buffer | undefined;
      }
    | undefined;
  /** The planner's public keys (files or directories of *.pem); undefined only with PLAN_SIGNATURES=off. */
  readonly planKeys: readonly string[] | undefined;
  /** A plan change larger than this is refused (bytes; the topic's own limit is per message). */
  readonly maxChangeBytes: number;
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
  /** This node's API token in a file (a mounted Secret): kept out of the environment. */
  NETLEDGER_TOKEN_FILE: z.string().min(1).optional(),
  /** The CA of the API's certificate, for an https NETLEDGER_API. */
  NETLEDGER_API_CA_FILE: z.string().min(1).optional(),
  PLAN_VERIFY_KEYS: z.string().min(1).optional(),
  EXECUTOR_MAX_CHANGE_BYTES: z.coerce
    .number()
    .int()
    .min(1024 * 1024)
    .max(MAX_CHANGE_BYTES)
    .default(MAX_CHANGE_BYTES),
  /** `off` takes unsigned changes (a quick local try only). */
  PLAN_SIGNATURES: z.enum(['required', 'off']).default('required'),
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
  const planKeys = e.PLAN_VERIFY_KEYS?.split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  if (e.PLAN_SIGNATURES === 'required' && !planKeys?.length)
    throw new Error(
      "executor: PLAN_VERIFY_KEYS is not set: it takes only changes signed by the planner's key (PLAN_SIGNATURES=off takes unsigned ones, for a local try)",
    );
  return {
    node: e.NODE_NAME,
    netns: e.NETNS,
    backend: e.DRY_RUN === 'true' ? 'recording' : e.EXECUTOR_BACKEND,
    stateFile: e.STATE_FILE ?? `/var/lib/netledger/executor-${e.NODE_NAME}.json`,
    driftIntervalMs: e.DRIFT_INTERVAL_MS,
    topicPrefix: e.NETLEDGER_TOPIC_PREFIX,
    sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
    api: e.NETLEDGER_API
      ? {
          url: e.NETLEDGER_API,
          token: tokenFrom(e.NETLEDGER_TOKEN_FILE, e.NETLEDGER_TOKEN),
          ca: e.NETLEDGER_API_CA_FILE ? readFileSync(e.NETLEDGER_API_CA_FILE) : undefined,
        }
      : undefined,
    planKeys: e.PLAN_SIGNATURES === 'required' ? planKeys : undefined,
    maxChangeBytes: e.EXECUTOR_MAX_CHANGE_BYTES,
  };
}

function tokenFrom(
  file: string | undefined,
  inline: string | undefined,
): string | (() => string) | undefined {
  if (!file) return inline || undefined;
  // Read now, so a missing file stops the start; then again at each use (the kubelet renews it).
  readFileSync(file, 'utf8');
  return () => readFileSync(file, 'utf8').trim();
}
