import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '@netledger/event-store';
import type { Pool } from 'pg';
import { createTestDatabase } from '../support/services';

describe('PostgreSQL from the test harness', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('creates a table, inserts and selects in a database of its own', async () => {
    await pool.query('CREATE TABLE smoke (id bigserial PRIMARY KEY, body jsonb NOT NULL)');
    await pool.query(
      'INSERT INTO smoke (body) SELECT jsonb_build_object($1::text, n) FROM generate_series(1, 3) n',
      ['n'],
    );
    const { rows } = await pool.query<{ id: string; body: { n: number } }>(
      'SELECT id, body FROM smoke ORDER BY id',
    );
    expect(rows.map((r) => r.body.n)).toEqual([1, 2, 3]);
    const { rows: dbName } = await pool.query<{ db: string }>('SELECT current_database() AS db');
    expect(dbName[0]!.db).toMatch(/^nl_test_/);
  });

  it('rejects a DATABASE_URL that is not postgres://', () => {
    expect(() => createPool('mysql://x@y/z')).toThrow(/must start with postgres:\/\//);
    expect(() => createPool(undefined)).toThrow(/DATABASE_URL is not set/);
  });
});
