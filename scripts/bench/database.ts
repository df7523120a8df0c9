import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** The services' PostgreSQL (DATABASE_URL, else what scripts/services starts). */
export const baseDatabaseUrl = () =>
  process.env.DATABASE_URL ?? 'postgres://netledger:netledger@127.0.0.1:5432/netledger';

/** A throw-away database for one bench section; dropped by the returned function. */
export async function benchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `nl_bench_${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: baseDatabaseUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseDatabaseUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      // Autovacuum may still be busy with a database a bench just filled: wait for it.
      for (let attempt = 0; ; attempt++) {
        const c = new Client({ connectionString: baseDatabaseUrl() });
        await c.connect();
        try {
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
          return;
        } catch (error) {
          if (attempt >= 20) throw error;
        } finally {
          await c.end();
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    },
  };
}
