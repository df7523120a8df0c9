import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLUSTER_EVENT_UPCASTERS,
  CLUSTER_EVENT_VERSIONS,
  isNetledgerError,
  KUBE_OBJECT_APPLIED,
  type NewEvent,
  type RecordedEvent,
} from '@netledger/model';
import type { Pool } from 'pg';
import { createPool } from './pool';
import { EVENT_STORE_MIGRATIONS, migrate } from './migrations';
import { PgEventStore } from './event-store';
import { EventSubscription } from './subscription';
import { createTestDatabase } from '../../../test/support/services';

const event = (type = 'Happened', data: unknown = { n: 1 }): NewEvent => ({
  eventId: randomUUID(),
  type,
  schemaVersion: 1,
  data,
  metadata: { correlationId: 'c-1' },
});

describe('PgEventStore', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let store: PgEventStore;

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url, { max: 20 });
    await Promise.all([migrate(pool), migrate(pool), migrate(pool)]);
    store = new PgEventStore(pool, { upcasters: CLUSTER_EVENT_UPCASTERS, versions: CLUSTER_EVENT_VERSIONS });
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  it('runs migrations once, even when several processes start together', async () => {
    const { rows } = await pool.query('SELECT version FROM schema_migrations ORDER BY version');
    expect(rows.map((r) => r.version)).toEqual(EVENT_STORE_MIGRATIONS.map((m) => m.version));
    expect(await migrate(pool)).toEqual([]);
  });

  it('appends a batch to a stream with an expected version and reads it back in order', async () => {
    const stream = `test/${randomUUID()}`;
    const first = await store.append(stream, 'no_stream', [event('A'), event('B')]);
    expect(first.version).toBe(2);
    const second = await store.append(stream, 2, [event('C', { big: 'x'.repeat(1000) })]);
    expect(second.version).toBe(3);
    expect(second.positions[0]).toBeGreaterThan(first.positions[1]!);
    const read = await store.readStream(stream);
    expect(read.map((e) => [e.type, e.streamVersion])).toEqual([
      ['A', 1],
      ['B', 2],
      ['C', 3],
    ]);
    expect(read[0]!.metadata).toEqual({ correlationId: 'c-1' });
    expect(read[0]!.recordedAt).toBeInstanceOf(Date);
    expect(await store.readStream(stream, 3)).toHaveLength(1);
    expect(await store.streamVersion(stream)).toBe(3);
  });

  it('refuses a wrong expected version with a typed error and appends nothing', async () => {
    const stream = `test/${randomUUID()}`;
    await store.append(stream, 'no_stream', [event()]);
    const attempts = [
      () => store.append(stream, 0, [event()]),
      () => store.append(stream, 'no_stream', [event()]),
      () => store.append(stream, 5, [event()]),
    ];
    for (const attempt of attempts) {
      const error = await attempt().catch((e: unknown) => e);
      expect(isNetledgerError(error, 'EVENTSTORE.WRONG_EXPECTED_VERSION')).toBe(true);
    }
    expect(await store.streamVersion(stream)).toBe(1);
    expect((await store.append(stream, 'any', [event()])).version).toBe(2);
  });

  it('lets exactly one of many concurrent appenders win each version', async () => {
    const stream = `test/${randomUUID()}`;
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () => store.append(stream, 0, [event()])),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected')
        expect(isNetledgerError(r.reason, 'EVENTSTORE.WRONG_EXPECTED_VERSION')).toBe(true);
    // With retries on conflict, every appender gets in, and versions stay gapless.
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        for (;;) {
          try {
            await store.append(stream, await store.streamVersion(stream), [event()]);
            return;
          } catch (error) {
            if (!isNetledgerError(error, 'EVENTSTORE.WRONG_EXPECTED_VERSION')) throw error;
          }
        }
      }),
    );
    expect((await store.readStream(stream)).map((e) => e.streamVersion)).toEqual(
      Array.from({ length: 11 }, (_, i) => i + 1),
    );
  });

  it('hands out positions in commit order, so a reader never moves past a position still to come', async () => {
    const start = await store.headPosition();
    const older = await pool.connect();
    const slow = await pool.connect();
    try {
      // `older` has the older transaction id but appends last: xid order is not position order.
      await older.query('BEGIN');
      await older.query('SELECT pg_current_xact_id()');
      await slow.query('BEGIN');
      await store.appendWith(slow, `test/${randomUUID()}`, 'any', [event('Slow')]);
      let fastDone = false;
      const fast = store
        .append(`test/${randomUUID()}`, 'any', [event('Fast')])
        .finally(() => (fastDone = true));
      let olderDone = false;
      const olderAppend = store
        .appendWith(older, `test/${randomUUID()}`, 'any', [event('Older')])
        .finally(() => (olderDone = true));
      await new Promise((r) => setTimeout(r, 200));
      // Both wait for the open append; nothing is readable yet.
      expect([fastDone, olderDone]).toEqual([false, false]);
      expect(await store.readAll(start)).toEqual([]);
      await slow.query('COMMIT');
      await Promise.race([fast, olderAppend]);
      await new Promise((r) => setTimeout(r, 100));
      // Whatever is read now is a prefix of what will be read once everything has committed.
      const early = (await store.readAll(start)).map((e) => e.position);
      if (!olderDone) await fast;
      await olderAppend;
      await older.query('COMMIT');
      await fast;
      const read = await store.readAll(start);
      expect(read.map((e) => e.type).sort()).toEqual(['Fast', 'Older', 'Slow']);
      expect(read[0]!.type).toBe('Slow');
      expect(read.map((e) => e.position).slice(0, early.length)).toEqual(early);
    } finally {
      older.release();
      slow.release();
    }
  });

  it('a subscription catches up, then follows, in order, exactly once, through out-of-order commits', async () => {
    const from = await store.headPosition();
    for (let i = 0; i < 30; i++) await store.append(`sub/${i % 3}`, 'any', [event('Before', { i })]);
    const seen: RecordedEvent[] = [];
    const sub = new EventSubscription(store, {
      from,
      batchSize: 7,
      pollMs: 50,
      types: ['Before', 'After'],
      handle: async (events) => void seen.push(...events),
    });
    await sub.start();
    const held = await pool.connect();
    await held.query('BEGIN');
    await store.appendWith(held, 'sub/held', 'any', [event('After', { i: 'held' })]);
    // These wait for the held append to commit (positions go in commit order).
    const after = Promise.all(
      Array.from({ length: 30 }, (_, i) => store.append(`sub/${i % 5}`, 'any', [event('After', { i })])),
    );
    await new Promise((r) => setTimeout(r, 300));
    await held.query('COMMIT');
    held.release();
    await after;
    const deadline = Date.now() + 10_000;
    while (seen.length < 61 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await sub.stop();
    expect(seen).toHaveLength(61);
    const positions = seen.map((e) => e.position);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    expect(new Set(positions).size).toBe(61);
    expect(seen.some((e) => (e.data as { i: unknown }).i === 'held')).toBe(true);
  });

  it('a subscription whose connection the server drops reconnects and misses nothing', async () => {
    const from = await store.headPosition();
    const seen: RecordedEvent[] = [];
    const errors: unknown[] = [];
    const sub = new EventSubscription(store, {
      from,
      pollMs: 50,
      types: ['Survived'],
      handle: async (events) => void seen.push(...events),
      onError: (error) => errors.push(error),
    });
    await sub.start();
    await store.append(`drop/${randomUUID()}`, 'any', [event('Survived', { i: 1 })]);
    // What a restart or failover does: every other session of the database ends.
    await pool.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
       WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    await store.append(`drop/${randomUUID()}`, 'any', [event('Survived', { i: 2 })]);
    const deadline = Date.now() + 10_000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await sub.stop();
    expect(seen.map((e) => (e.data as { i: number }).i)).toEqual([1, 2]);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('appends to many streams at once, checking every expected version', async () => {
    const a = `many/${randomUUID()}`;
    const b = `many/${randomUUID()}`;
    await store.append(a, 'no_stream', [event()]);
    const recorded = await store.transaction((c) =>
      store.appendToStreams(c, [
        { streamId: a, expected: 1, events: [event('A2'), event('A3')] },
        { streamId: b, expected: 0, events: [event('B1')] },
      ]),
    );
    expect(recorded.map((e) => [e.streamId, e.streamVersion, e.type])).toEqual([
      [a, 2, 'A2'],
      [a, 3, 'A3'],
      [b, 1, 'B1'],
    ]);
    expect((await store.readStream(a)).map((e) => e.type)).toEqual(['Happened', 'A2', 'A3']);
    const error = await store
      .transaction((c) =>
        store.appendToStreams(c, [
          { streamId: b, expected: 1, events: [event()] },
          { streamId: a, expected: 2, events: [event()] },
        ]),
      )
      .catch((e: unknown) => e);
    expect(isNetledgerError(error, 'EVENTSTORE.WRONG_EXPECTED_VERSION')).toBe(true);
    expect(await store.streamVersion(b)).toBe(1);
  });

  it('reads the event at a given version of each stream, in position order', async () => {
    const a = `at/${randomUUID()}`;
    const b = `at/${randomUUID()}`;
    await store.append(a, 'no_stream', [event('A1'), event('A2'), event('A3')]);
    await store.append(b, 'no_stream', [event('B1')]);
    const read = await store.readAtVersions(
      new Map([
        [b, 1],
        [a, 2],
        [`at/${randomUUID()}`, 1],
      ]),
    );
    expect(read.map((e) => [e.streamId, e.streamVersion, e.type])).toEqual([
      [a, 2, 'A2'],
      [b, 1, 'B1'],
    ]);
    expect(await store.readAtVersions(new Map())).toEqual([]);
  });

  it('keeps snapshots and checkpoints', async () => {
    expect(await store.loadSnapshot('model')).toBeUndefined();
    await store.saveSnapshot('model', 42, 1, { nodes: ['a'] });
    await store.saveSnapshot('model', 43, 1, { nodes: ['a', 'b'] });
    expect(await store.loadSnapshot('model')).toEqual({
      position: 43,
      schemaVersion: 1,
      data: { nodes: ['a', 'b'] },
    });
    await store.saveCheckpoint('planner', 7);
    expect(await store.loadCheckpoint('planner')).toBe(7);
    expect(await store.loadCheckpoint('nobody')).toBeUndefined();
  });

  it('upcasts events stored in an older schema version when reading them', async () => {
    const stream = 'k8s/Node/old-node';
    const v1Node = {
      kind: 'Node',
      name: 'old-node',
      labels: {},
      annotations: { 'flannel.alpha.coreos.com/backend-data': '{"VNI":1,"VtepMAC":"0A:58:0A:F4:01:00"}' },
      podCIDRs: ['10.244.1.0/24'],
      addresses: [{ type: 'InternalIP', address: '192.168.0.2' }],
    };
    await store.append(stream, 'no_stream', [
      {
        eventId: randomUUID(),
        type: KUBE_OBJECT_APPLIED,
        schemaVersion: 1,
        data: { object: v1Node },
        metadata: {},
      },
    ]);
    const [read] = await store.readStream(stream);
    expect(read!.schemaVersion).toBe(2);
    expect(read!.data).toEqual({
      object: { ...v1Node, flannelPublicIp: null, flannelVtepMac: '0a:58:0a:f4:01:00' },
    });
  });
});
