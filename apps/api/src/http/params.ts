import { isDns1123Subdomain, NetledgerError } from '@netledger/model';
import { z } from 'zod';

/** Validates query parameters with `schema`; a bad one is a 400 naming it. */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  const parsed = schema.safeParse(query ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new NetledgerError(
      'INPUT.INVALID_PARAMETER',
      `${issue.path.join('.') || 'query'}: ${issue.message}`,
    );
  }
  return parsed.data;
}

/** A node name from the path; anything that is not a Kubernetes node name is a 400. */
export function nodeName(value: string): string {
  if (!isDns1123Subdomain(value))
    throw new NetledgerError(
      'INPUT.INVALID_PARAMETER',
      `node: ${JSON.stringify(value.slice(0, 80))} is not a node name`,
    );
  return value;
}

export const revision = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
export const isoTime = z.iso.datetime({ offset: true }).transform((s) => new Date(s));
export const label = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[A-Za-z0-9._/:-]+$/, 'not a Kubernetes name');
