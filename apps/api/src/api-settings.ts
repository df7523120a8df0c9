import { z } from 'zod';
import { readTokens, type Principal } from './api-tokens';
import type { TokenReviewSettings } from './http/token-review';

/** The API's settings: topics, and the bearer tokens it accepts with their roles. */
export interface ApiSettings {
  readonly topicPrefix: string;
  readonly statusGroup: string;
  readonly tokens: ReadonlyMap<string, Principal>;
  /** Executors' pod-bound ServiceAccount tokens checked with TokenReview (undefined: off). */
  readonly tokenReview: TokenReviewSettings | undefined;
}

const schema = z.object({
  NETLEDGER_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/)
    .default('netledger'),
  API_STATUS_GROUP: z.string().min(1).max(200).default('netledger-api'),
  /** A file of token:role lines (a mounted Secret); roles reader, admin, node:<node name>. */
  API_TOKENS_FILE: z.string().min(1).optional(),
  /** The same entries, comma separated (a quick local try; a file keeps them out of the environment). */
  API_TOKENS: z.string().min(1).optional(),
  /** `on`: executors authenticate with their pod's ServiceAccount token (TokenReview). */
  API_TOKEN_REVIEW: z.enum(['on', 'off']).default('off'),
  API_TOKEN_AUDIENCE: z.string().min(1).max(200).default('netledger'),
  API_EXECUTOR_SERVICE_ACCOUNT: z
    .string()
    .regex(/^system:serviceaccount:[a-z0-9.-]+:[a-z0-9.-]+$/)
    .default('system:serviceaccount:netledger:netledger-executor'),
});

export function readApiSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ApiSettings {
  const parsed = schema.safeParse(env);
  if (!parsed.success)
    throw new Error(
      `api: invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const tokens = readTokens(parsed.data.API_TOKENS_FILE, parsed.data.API_TOKENS);
  return {
    topicPrefix: parsed.data.NETLEDGER_TOPIC_PREFIX,
    statusGroup: parsed.data.API_STATUS_GROUP,
    tokens,
    tokenReview:
      parsed.data.API_TOKEN_REVIEW === 'on'
        ? { audience: parsed.data.API_TOKEN_AUDIENCE, executorUser: parsed.data.API_EXECUTOR_SERVICE_ACCOUNT }
        : undefined,
  };
}

export const API_SETTINGS = Symbol('API_SETTINGS');
