import type { Migration } from '@netledger/event-store';

/**
 * The API's projections: derived from the event store (and node-status), rebuildable from
 * position 0 at any time. One checkpoint ('api-projections') moves with each batch, in the same
 * transaction as the rows, so a projection is never ahead of or behind what it says it has read.
 */
export const API_MIGRATIONS: readonly Migration[] = [
  {
    version: 301,
    name: 'api projections',
    sql: `
      CREATE TABLE api_nodes (
        node              text PRIMARY KEY,
        desired_revision  bigint NOT NULL,
        state             jsonb NOT NULL,
        present           boolean NOT NULL,
        updated_at        timestamptz NOT NULL
      );
      CREATE TABLE api_node_revisions (
        node           text NOT NULL,
        revision       bigint NOT NULL,
        position       bigint NOT NULL,
        recorded_at    timestamptz NOT NULL,
        diff_digest    text NOT NULL,
        cause_ids      uuid[] NOT NULL,
        PRIMARY KEY (node, revision)
      );
      CREATE INDEX api_node_revisions_time ON api_node_revisions (node, recorded_at);
      CREATE TABLE api_executor_status (
        node        text PRIMARY KEY,
        status      jsonb NOT NULL,
        updated_at  timestamptz NOT NULL
      );
      CREATE TABLE api_audit (
        position     bigint PRIMARY KEY,
        recorded_at  timestamptz NOT NULL,
        type         text NOT NULL,
        stream_id    text NOT NULL,
        kind         text,
        namespace    text,
        name         text,
        node         text
      );
      CREATE INDEX api_audit_time ON api_audit (recorded_at, position);
      CREATE INDEX api_audit_node ON api_audit (node, position);
      CREATE INDEX api_audit_object ON api_audit (kind, namespace, name, position);
      CREATE INDEX api_audit_type ON api_audit (type, position);
    `,
  },
  {
    version: 302,
    name: 'no per-node copies of the plan',
    // A node's state is resolved from the plan ledger (fragments and manifests), never stored per node.
    sql: `DROP TABLE IF EXISTS api_nodes; DROP TABLE IF EXISTS api_node_revisions;`,
  },
];
