import { z } from 'zod';

export type Role = 'reader' | 'admin';

/** The API's settings: topics, and the bearer tokens it accepts with their roles. */
export interface ApiSettings {
  readonly topicPrefix: string;
  readonly statusGroup: string;
  readonly tokens: ReadonlyMap<string, Role>;
}

const schema = z.object({
  NETLEDGER_TOPIC_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,100}$/)
    .default('netledger'),
  API_STATUS_GROUP: z.string().min(1).max(200).default('netledger-api'),
  /** "token:role,token:role" with roles reader or admin. */
  API_TOKENS: z.string().min(1, 'API_TOKENS must name at least one token (token:reader or token:admin)'),
});

export function readApiSettings(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ApiSettings {
  const parsed = schema.safeParse(env);
  if (!parsed.success)
    throw new Error(
      `api: invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  const tokens = new Map<string, Role>();
  for (const entry of parsed.data.API_TOKENS.split(',')) {
    const [token, role] = entry.trim().split(':');
    if (!token || token.length < 16 || (role !== 'reader' && role !== 'admin')) {
      throw new Error(
        'api: API_TOKENS entries are token:reader or token:admin, tokens at least 16 characters',
      );
    }
    tokens.set(token, role);
  }
  return {
    topicPrefix: parsed.data.NETLEDGER_TOPIC_PREFIX,
    statusGroup: parsed.data.API_STATUS_GROUP,
    tokens,
  };
}

export const API_SETTINGS = Symbol('API_SETTINGS');
