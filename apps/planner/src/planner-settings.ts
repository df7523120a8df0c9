import { readFileSync } from 'node:fs';
import { PlanSigner } from '@netledger/messaging';
import { parse } from 'yaml';
import { z } from 'zod';
import {
  DEFAULT_OVERLAY_CONFIG,
  DEFAULT_PROXY_CONFIG,
  parseKubeProxyConfiguration,
  parseKubeProxyRelease,
  parseNetConf,
  type OverlayConfig,
  type ProxyConfig,
} from '@netledger/model';

/** The planner's own settings, from its environment. */
export interface PlannerSettings {
  readonly topicPrefix: string;
  readonly consumerGroup: string;
  /** Least time between two batches' starts; events within it go together (kube-proxy's minSyncPeriod, far shorter). */
  readonly batchWindowMs: number;
  readonly maxBatchEvents: number;
  /** Cluster events waiting to be planned at most; beyond it the consumer pauses (backpressure). */
  readonly maxPendingEvents: number;
  /** Planned batches that may wait for their commit while the next is planned (0: one at a time). */
  readonly commitsAhead: number;
  /** A planner that dies is out of its consumer group after this long (Kafka's session timeout). */
  readonly sessionTimeoutMs: number;
  /** How long the plan topic keeps changes; an executor further behind resyncs from the API. */
  readonly planRetentionMs: number;
  /** A checkpoint of the whole plan is stored every this many revisions (reads replay at most that many). */
  readonly checkpointEvery: number;
  /** History older than this is folded into a checkpoint, with the cluster events it replaced (0: kept for ever). */
  readonly ledgerRetentionMs: number;
  /** How often the retention runs. */
  readonly ledgerRetentionCheckMs: number;
  readonly proxyConfig: ProxyConfig;
  readonly overlayConfig: OverlayConfig;
  /** Signs every plan message (undefined only when PLAN_SIGNATURES=off was asked for). */
  readonly signer: PlanSigner | undefined;
}

const schema = z.object({
  NETLEDGER_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/)
    .default('netledger'),
  PLANNER_GROUP: z.string().min(1).max(200).default('netledger-planner'),
  PLANNER_BATCH_WINDOW_MS: z.coerce.number().int().min(0).max(60_000).default(20),
  PLANNER_MAX_BATCH_EVENTS: z.coerce.number().int().min(1).max(1_000_000).default(5000),
  PLANNER_MAX_PENDING_EVENTS: z.coerce.number().int().min(1).max(10_000_000).default(50_000),
  PLANNER_COMMITS_AHEAD: z.coerce.number().int().min(0).max(8).default(0),
  KAFKA_SESSION_TIMEOUT_MS: z.coerce.number().int().min(6000).max(300_000).default(30_000),
  PLAN_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(60_000)
    .default(7 * 24 * 3600_000),
  PLAN_CHECKPOINT_EVERY: z.coerce.number().int().min(1).max(1_000_000).default(500),
  LEDGER_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(0)
    .default(30 * 24 * 3600_000),
  LEDGER_RETENTION_CHECK_MS: z.coerce.number().int().min(1000).default(3600_000),
  PROXY_CONFIG: z.string().min(1).optional(),
  /** The kube-proxy release whose rules to write (v1.34 to v1.37; default v1.37). */
  KUBE_PROXY_VERSION: z.string().min(1).optional(),
  NET_CONF: z.string().min(1).optional(),
  CLUSTER_CIDR: z.string().min(1).optional(),
  /** The planner's Ed25519 private key (PEM, PKCS#8), as a mounted Secret gives it. */
  PLAN_SIGNING_KEY_FILE: z.string().min(1).optional(),
  /** `off` publishes unsigned changes (a quick local try only; executors must be told too). */
  PLAN_SIGNATURES: z.enum(['required', 'off']).default('required'),
});

/** Reads the settings; the kube-proxy and flannel files are kube-proxy's and flannel's own formats. */
export function readPlannerSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
): PlannerSettings {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    throw new Error(
      `planner: invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  const e = parsed.data;
  if (e.PLAN_SIGNATURES === 'required' && !e.PLAN_SIGNING_KEY_FILE)
    throw new Error(
      'planner: PLAN_SIGNING_KEY_FILE is not set: executors take only signed changes (PLAN_SIGNATURES=off publishes unsigned ones, for a local try)',
    );
  const release = e.KUBE_PROXY_VERSION
    ? parseKubeProxyRelease(e.KUBE_PROXY_VERSION)
    : DEFAULT_PROXY_CONFIG.release;
  const proxyConfig = e.PROXY_CONFIG
    ? parseKubeProxyConfiguration(parse(readFileSync(e.PROXY_CONFIG, 'utf8')), release)
    : { ...DEFAULT_PROXY_CONFIG, release };
  const overlayConfig = e.NET_CONF
    ? parseNetConf(JSON.parse(readFileSync(e.NET_CONF, 'utf8')))
    : DEFAULT_OVERLAY_CONFIG;
  return {
    topicPrefix: e.NETLEDGER_TOPIC_PREFIX,
    consumerGroup: e.PLANNER_GROUP,
    batchWindowMs: e.PLANNER_BATCH_WINDOW_MS,
    maxBatchEvents: e.PLANNER_MAX_BATCH_EVENTS,
    maxPendingEvents: e.PLANNER_MAX_PENDING_EVENTS,
    commitsAhead: e.PLANNER_COMMITS_AHEAD,
    sessionTimeoutMs: e.KAFKA_SESSION_TIMEOUT_MS,
    planRetentionMs: e.PLAN_RETENTION_MS,
    checkpointEvery: e.PLAN_CHECKPOINT_EVERY,
    ledgerRetentionMs: e.LEDGER_RETENTION_MS,
    ledgerRetentionCheckMs: e.LEDGER_RETENTION_CHECK_MS,
    // Without a KubeProxyConfiguration, local traffic is told apart by flannel's pod network.
    proxyConfig: e.PROXY_CONFIG
      ? proxyConfig
      : {
          ...proxyConfig,
          clusterCIDRs: e.CLUSTER_CIDR
            ? e.CLUSTER_CIDR.split(',').map((c) => c.trim())
            : [overlayConfig.network, ...(overlayConfig.ipv6Network ? [overlayConfig.ipv6Network] : [])],
        },
    overlayConfig,
    signer: e.PLAN_SIGNATURES === 'required' ? PlanSigner.fromFile(e.PLAN_SIGNING_KEY_FILE!) : undefined,
  };
}

export const PLANNER_SETTINGS = Symbol('PLANNER_SETTINGS');
