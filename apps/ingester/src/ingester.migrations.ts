import type { Migration } from '@netledger/event-store';

/** The ingester's own read model: what it last recorded per object, and where each watch stands. */
export const INGESTER_MIGRATIONS: readonly Migration[] = [
  {
    version: 101,
    name: 'ingester objects and resource versions',
    sql: `
      CREATE TABLE ingester_objects (
        stream_id         text PRIMARY KEY,
        kind              text NOT NULL,
        namespace         text NOT NULL,
        name              text NOT NULL,
        stream_version    bigint NOT NULL,
        digest            text,
        resource_version  text NOT NULL
      );
      CREATE INDEX ingester_objects_kind ON ingester_objects (kind) WHERE digest IS NOT NULL;
      -- The last rejected resourceVersion of each object, so a relist does not repeat a rejection.
      CREATE TABLE ingester_rejections (
        object_key        text PRIMARY KEY,
        resource_version  text NOT NULL
      );
      CREATE TABLE ingester_resource_versions (
        kind              text PRIMARY KEY,
        resource_version  text NOT NULL,
        updated_at        timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];
