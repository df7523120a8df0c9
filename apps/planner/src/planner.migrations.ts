import type { Migration } from '@netledger/event-store';

/**
 * The planner's own state: the version of every cluster stream its model has folded in (its model
 * snapshot, by reference to the events), and the configuration its last revisions were made with.
 * Both change in the same transaction as the revisions, so a restart rebuilds exactly the model
 * those revisions came from.
 */
export const PLANNER_MIGRATIONS: readonly Migration[] = [
  {
    version: 201,
    name: 'planner streams and configuration',
    sql: `
      CREATE TABLE planner_streams (
        stream_id  text PRIMARY KEY,
        version    bigint NOT NULL
      );
      CREATE TABLE planner_config (
        id       int PRIMARY KEY CHECK (id = 1),
        proxy    jsonb NOT NULL,
        overlay  jsonb NOT NULL
      );
    `,
  },
  {
    version: 203,
    name: 'cluster-events offsets with the plan',
    // Stored in the transaction of the change the batch led to: a restart goes on exactly there,
    // under a consumer group of its own (no wait for a killed member's session to expire).
    sql: `
      CREATE TABLE planner_offsets (
        topic        text NOT NULL,
        partition    int NOT NULL,
        next_offset  bigint NOT NULL,
        PRIMARY KEY (topic, partition)
      );
    `,
  },
];
