import type { Pool, PoolClient } from 'pg';

/** One schema change, applied once, in order, inside a transaction. */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/*
 * Positions come from an identity column, assigned at insert. Appends hold an advisory lock from
 * before their insert until they end (PgEventStore), so positions are in commit order and a
 * reader that has read position p will never see a lower one commit later. Every row also
 * records the id of the transaction that wrote it (xid8), and readers take only rows whose
 * transaction is older than the oldest one still running (pg_snapshot_xmin). That alone was not
 * enough: a transaction can get its xid before another and its position after it.
 */
export const EVENT_STORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events, streams, snapshots, checkpoints, outbox',
    sql: `
      CREATE TABLE events (
        position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
        event_id        uuid NOT NULL UNIQUE,
        stream_id       text NOT NULL,
        stream_version  bigint NOT NULL,
        type            text NOT NULL,
        schema_version  int NOT NULL,
        data            jsonb NOT NULL,
        metadata        jsonb NOT NULL,
        recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
        UNIQUE (stream_id, stream_version)
      );
      CREATE INDEX events_transaction ON events (transaction_id, position);
      CREATE INDEX events_type_position ON events (type, position);
      CREATE INDEX events_recorded_at ON events (recorded_at);

      CREATE TABLE streams (
        stream_id  text PRIMARY KEY,
        version    bigint NOT NULL
      );

      CREATE TABLE snapshots (
        name            text PRIMARY KEY,
        position        bigint NOT NULL,
        schema_version  int NOT NULL,
        data            jsonb NOT NULL,
        saved_at        timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE checkpoints (
        name        text PRIMARY KEY,
        position    bigint NOT NULL,
        updated_at  timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE outbox (
        id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
        topic           text NOT NULL,
        key             text NOT NULL,
        value           text NOT NULL,
        headers         jsonb NOT NULL DEFAULT '{}',
        created_at      timestamptz NOT NULL DEFAULT now(),
        sent_at         timestamptz
      );
      CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
    `,
  },
  {
    version: 2,
    name: 'outbox rows that reference an event',
    sql: `
      ALTER TABLE outbox ALTER COLUMN value DROP NOT NULL;
      ALTER TABLE outbox ADD COLUMN event_position bigint;
      ALTER TABLE outbox ADD CONSTRAINT outbox_value_or_event CHECK (value IS NOT NULL OR event_position IS NOT NULL);
    `,
  },
  {
    version: 3,
    name: 'outbox rows for a chosen partition',
    sql: `ALTER TABLE outbox ADD COLUMN partition int;`,
  },
  {
    version: 4,
    name: 'drop an index no reader uses',
    // Readers filter on position and compare transaction ids per row; the index only slowed appends.
    sql: `DROP INDEX IF EXISTS events_transaction;`,
  },
  {
    version: 5,
    name: 'leave type and time lookups to the audit projection',
    // Appends pay for every index on events; queries by type or time go to the API's audit index.
    sql: `DROP INDEX IF EXISTS events_type_position; DROP INDEX IF EXISTS events_recorded_at;`,
  },
  {
    version: 6,
    name: 'content-addressed node diffs',
    // Superseded by version 9 (the plan ledger), which drops it.
    sql: `CREATE TABLE IF NOT EXISTS node_diff_bodies (
      digest text PRIMARY KEY, body jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now());`,
  },
  {
    version: 7,
    name: 'room for in-page updates of stream versions',
    // A planner batch moves thousands of node streams; with free room on each page the version
    // updates are HOT (no index entry per update): 5,000 of them went from ~25 ms to ~15 ms.
    sql: `ALTER TABLE streams SET (fillfactor = 50);`,
  },
  {
    version: 8,
    name: 'outbox rows for every event a transaction appended in a range of positions',
    // One row instead of one per event: a planner batch appends thousands of node revisions.
    sql: `ALTER TABLE outbox ADD COLUMN event_position_last bigint;`,
  },
  {
    version: 9,
    name: 'the plan ledger: fragments stored once, checkpoints of the plan',
    // Bodies are text, not jsonb: a fragment's digest is taken of its JSON exactly as written, and
    // jsonb would reorder its keys. Per-node diffs and their bodies are gone with the node streams.
    sql: `
      DROP TABLE IF EXISTS node_diff_bodies;
      CREATE TABLE plan_fragments (
        digest         text PRIMARY KEY,
        kind           text NOT NULL,
        body           text NOT NULL,
        first_revision bigint NOT NULL
      );
      CREATE TABLE plan_checkpoints (
        revision    bigint PRIMARY KEY,
        snapshot    text NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 10,
    name: 'lz4 for the large values of the log and the plan',
    // Under churn, pglz compressing fragment bodies and events was a quarter of PostgreSQL's CPU
    // (perf, 1,000 changes/s); lz4 compresses about as well at a fraction of the cost. A server
    // built without lz4 keeps pglz.
    sql: `
      DO $$ BEGIN
        ALTER TABLE plan_fragments ALTER COLUMN body SET COMPRESSION lz4;
        ALTER TABLE plan_checkpoints ALTER COLUMN snapshot SET COMPRESSION lz4;
        ALTER TABLE events ALTER COLUMN data SET COMPRESSION lz4;
        ALTER TABLE outbox ALTER COLUMN value SET COMPRESSION lz4;
      EXCEPTION WHEN feature_not_supported THEN
        RAISE NOTICE 'lz4 is not available: large values stay pglz-compressed';
      END $$;
    `,
  },
];

/** Advisory lock key that serialises migration runs across processes. */
const MIGRATION_LOCK = 7_460_337_001;

/**
 * Applies the migrations not applied yet, in order, each in its own transaction; concurrent
 * callers wait for each other. Returns the versions it applied.
 */
export async function migrate(
  pool: Pool,
  migrations: readonly Migration[] = EVENT_STORE_MIGRATIONS,
): Promise<number[]> {
  const client: PoolClient = await pool.connect();
  // A connection ended while checked out emits 'error'; without a listener that ends the process.
  const onError = () => undefined;
  client.on('error', onError);
  const applied: number[] = [];
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations');
    const done = new Set(rows.map((r) => r.version));
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (done.has(m.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(m.sql);
        await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
          m.version,
          m.name,
        ]);
        await client.query('COMMIT');
        applied.push(m.version);
      } catch (error) {
        await client.query('ROLLBACK');
        throw error;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.removeListener('error', onError);
    client.release();
  }
  return applied;
}
