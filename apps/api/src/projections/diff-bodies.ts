import type { NodeDiff } from '@netledger/model';
import type { Pool, PoolClient } from 'pg';

/** The diffs the planner stored once by content address (node_diff_bodies), by digest. */
export async function loadDiffBodies(
  db: Pool | PoolClient,
  digests: readonly string[],
): Promise<Map<string, NodeDiff>> {
  const { rows } = await db.query<{ digest: string; body: NodeDiff }>(
    'SELECT digest, body FROM node_diff_bodies WHERE digest = ANY($1)',
    [[...new Set(digests)]],
  );
  return new Map(rows.map((r) => [r.digest, r.body]));
}
