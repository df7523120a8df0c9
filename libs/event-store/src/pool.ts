import { Pool, type PoolConfig } from 'pg';

/** Parses DATABASE_URL and opens a pg pool; throws a clear error when the URL is missing or wrong. */
export function createPool(databaseUrl: string | undefined, overrides: Partial<PoolConfig> = {}): Pool {
  if (!databaseUrl)
    throw new Error('DATABASE_URL is not set: give postgres://user:password@host:port/database');
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch (cause) {
    throw new Error('DATABASE_URL is not a URL', { cause });
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`DATABASE_URL must start with postgres://, not ${url.protocol}//`);
  }
  const pool = new Pool({ connectionString: databaseUrl, max: 10, ...overrides });
  // An idle connection the server closed (restart, failover) is discarded by the pool; without a
  // listener that would be an uncaught error ending the process. Queries still fail loudly.
  pool.on('error', () => undefined);
  return pool;
}
