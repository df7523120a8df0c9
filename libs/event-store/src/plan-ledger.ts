import {
  isNetledgerError,
  NetledgerError,
  PLAN_CHANGED,
  PLAN_EVENT_VERSIONS,
  PLAN_STREAM,
  type Digest,
  type FragmentKind,
  type PlanCause,
  type PlanChange,
  type PlanChanged,
  type RecordedEvent,
} from '@netledger/model';
import { PlanBook, type EncodedFragment, type FragmentSource } from '@netledger/planner-core';
import type { Pool, PoolClient } from 'pg';
import { newEventId } from './event-id';
import type { PgEventStore } from './event-store';

/** Fragments are written and read in slices: one statement stays far from PostgreSQL's limits (65,535 parameters). */
const SLICE = 2000;

/** A recorded plan change: its event's position and time, and what it recorded. */
export interface RecordedPlanChange {
  readonly position: number;
  readonly recordedAt: Date;
  readonly change: PlanChange;
  readonly causes: readonly PlanCause[];
}

/** The plan at one revision, as a checkpoint stores it. */
export interface PlanCheckpoint {
  readonly revision: number;
  readonly snapshot: PlanChange;
}

/** A checkpoint of the book as it is now (the snapshot is taken at once: the book moves on). */
export function checkpointOf(book: PlanBook): PlanCheckpoint {
  return { revision: book.revision, snapshot: book.snapshot() };
}

/**
 * The plan's side of the event store: the `plan` stream (one PlanChanged per change), fragment
 * bodies stored once by digest (plan_fragments), and checkpoints of the whole plan
 * (plan_checkpoints) so that resolving a revision replays a bounded stretch of the log.
 */
export class PlanLedger {
  constructor(private readonly store: PgEventStore) {}

  private get pool(): Pool {
    return this.store.pool;
  }

  /**
   * Appends one change in the caller's transaction: its fragment bodies (a body already stored is
   * kept), then its event at stream version = revision. Throws EVENTSTORE.WRONG_EXPECTED_VERSION
   * when another writer moved the plan meanwhile.
   */
  async append(
    client: PoolClient,
    change: PlanChange,
    fragments: readonly EncodedFragment[],
    causes: readonly PlanCause[],
    metadata: { causationId?: string; correlationId?: string } = {},
  ): Promise<RecordedEvent> {
    // Each body is a parameter of its own, sent as it is: array parameters are escaped character
    // by character by pg in JavaScript (~0.7 s of a second's churn), and bodies inside one JSON
    // document were escaped by JSON.stringify and unescaped again by PostgreSQL, char by char.
    for (let i = 0; i < fragments.length; i += SLICE) {
      const slice = fragments.slice(i, i + SLICE);
      const rows = slice.map((_, j) => `($${3 * j + 2}, $${3 * j + 3}, $${3 * j + 4}, $1::bigint)`);
      const values: (string | number)[] = [change.revision];
      for (const f of slice) values.push(f.digest, f.kind, f.json);
      await client.query(
        `INSERT INTO plan_fragments (digest, kind, body, first_revision) VALUES ${rows.join(', ')}
         ON CONFLICT (digest) DO NOTHING`,
        values,
      );
    }
    const data: PlanChanged = { change, causes };
    const [event] = await this.store.appendToStreams(client, [
      {
        streamId: PLAN_STREAM,
        expected: change.revision - 1,
        events: [
          {
            eventId: newEventId(),
            type: PLAN_CHANGED,
            schemaVersion: PLAN_EVENT_VERSIONS.get(PLAN_CHANGED)!,
            data,
            metadata,
          },
        ],
      },
    ]);
    return event!;
  }

  /** The plan revision recorded last (0: none yet). */
  async head(client: Pool | PoolClient = this.pool): Promise<number> {
    const { rows } = await client.query<{ version: string }>(
      'SELECT version FROM streams WHERE stream_id = $1',
      [PLAN_STREAM],
    );
    return rows[0] ? Number(rows[0].version) : 0;
  }

  /** Recorded changes with revisions in [from, to], in order. */
  async changes(from: number, to: number = Number.MAX_SAFE_INTEGER): Promise<RecordedPlanChange[]> {
    const out: RecordedPlanChange[] = [];
    for (let next = from; next <= to;) {
      const events = await this.store.readStream(PLAN_STREAM, next, Math.min(500, to - next + 1));
      for (const e of events) {
        const data = e.data as PlanChanged;
        out.push({
          position: e.position,
          recordedAt: e.recordedAt,
          change: data.change,
          causes: data.causes,
        });
      }
      if (events.length === 0) break;
      next = events.at(-1)!.streamVersion + 1;
    }
    return out;
  }

  /** When a revision was recorded (null: no such revision). */
  async recordedAt(revision: number): Promise<Date | null> {
    const { rows } = await this.pool.query<{ recorded_at: Date }>(
      'SELECT recorded_at FROM events WHERE stream_id = $1 AND stream_version = $2',
      [PLAN_STREAM, revision],
    );
    return rows[0]?.recorded_at ?? null;
  }

  /**
   * The revision in force at a time (the last recorded at or before it), 0 when none was. Throws
   * PLAN.BEYOND_RETENTION for a time before the oldest revision kept, once history was folded.
   */
  async revisionAt(time: Date): Promise<number> {
    const { rows } = await this.pool.query<{ version: string }>(
      `SELECT max(stream_version) AS version FROM events WHERE stream_id = $1 AND recorded_at <= $2`,
      [PLAN_STREAM, time],
    );
    const revision = rows[0]?.version ? Number(rows[0].version) : 0;
    if (revision === 0) await this.assertKept(0, time);
    return revision;
  }

  /**
   * The oldest revision the ledger resolves: 1, until history older than the retention is folded
   * into a checkpoint (foldBefore); then the revision of that checkpoint.
   */
  async horizon(): Promise<number> {
    const { rows } = await this.pool.query<{ version: string | null }>(
      'SELECT min(stream_version) AS version FROM events WHERE stream_id = $1',
      [PLAN_STREAM],
    );
    return rows[0]?.version ? Number(rows[0].version) : 1;
  }

  private async assertKept(revision: number, time?: Date): Promise<void> {
    const horizon = await this.horizon();
    if (horizon <= 1 || revision >= horizon) return;
    throw new NetledgerError(
      'PLAN.BEYOND_RETENTION',
      `the ledger keeps the plan from revision ${horizon}; ${time ? `${time.toISOString()} is` : `revision ${revision} is`} older, and folded into it`,
      { details: { horizon, ...(time ? { time: time.toISOString() } : { revision }) } },
    );
  }

  /**
   * Folds history older than `cutoff` into a checkpoint: the plan in force at the cutoff (R) is
   * checkpointed, then the changes before R, the checkpoints before it and the fragments that
   * neither R's checkpoint nor a later change names are deleted, in one transaction. A change
   * whose outbox row is not sent yet, and every change after it, stays. Returns what went.
   */
  async foldBefore(
    cutoff: Date,
  ): Promise<{ revision: number; changes: number; fragments: number; checkpoints: number } | undefined> {
    // A cutoff before the horizon has nothing left to fold; any other failure is the caller's.
    let revision = await this.revisionAt(cutoff).catch((error: unknown) => {
      if (isNetledgerError(error, 'PLAN.BEYOND_RETENTION')) return 0;
      throw error;
    });
    const { rows: unsent } = await this.pool.query<{ version: string | null }>(
      `SELECT min(e.stream_version) AS version FROM outbox o JOIN events e ON e.position = o.event_position
       WHERE e.stream_id = $1`,
      [PLAN_STREAM],
    );
    if (unsent[0]?.version) revision = Math.min(revision, Number(unsent[0].version));
    if (revision <= (await this.horizon())) return undefined;
    if ((await this.checkpointBefore(revision)) !== revision)
      await this.saveCheckpoint(await this.book({ revision }));
    return this.store.transaction(async (client) => {
      const changes = await client.query('DELETE FROM events WHERE stream_id = $1 AND stream_version < $2', [
        PLAN_STREAM,
        revision,
      ]);
      const checkpoints = await client.query('DELETE FROM plan_checkpoints WHERE revision < $1', [revision]);
      // What the plan names from R on: R's checkpoint, and what the changes after it carry (a
      // change names no fragment that was neither held at R nor carried since).
      const fragments = await client.query(
        `WITH kept AS (
           SELECT jsonb_array_elements_text(snapshot::jsonb -> 'fragments') AS digest
             FROM plan_checkpoints WHERE revision >= $2
           UNION
           SELECT jsonb_array_elements_text(data -> 'change' -> 'fragments')
             FROM events WHERE stream_id = $1 AND stream_version > $2
         )
         DELETE FROM plan_fragments f
          WHERE f.first_revision < $2 AND NOT EXISTS (SELECT 1 FROM kept WHERE kept.digest = f.digest)`,
        [PLAN_STREAM, revision],
      );
      return {
        revision,
        changes: changes.rowCount ?? 0,
        fragments: fragments.rowCount ?? 0,
        checkpoints: checkpoints.rowCount ?? 0,
      };
    });
  }

  /**
   * Fragment bodies by digest, as stored (JSON text: a book parses a body when it first needs the
   * value); a digest not stored is missing from the map.
   */
  async fragments(digests: Iterable<Digest>): Promise<Map<Digest, { kind: FragmentKind; json: string }>> {
    const all = [...new Set(digests)];
    const out = new Map<Digest, { kind: FragmentKind; json: string }>();
    for (let i = 0; i < all.length; i += SLICE) {
      const { rows } = await this.pool.query<{ digest: string; kind: FragmentKind; body: string }>(
        'SELECT digest, kind, body FROM plan_fragments WHERE digest = ANY($1::text[])',
        [all.slice(i, i + SLICE)],
      );
      for (const r of rows) out.set(r.digest, { kind: r.kind, json: r.body });
    }
    return out;
  }

  /** Stores a checkpoint of the book (its snapshot), so later reads start from it. */
  async saveCheckpoint(book: PlanBook): Promise<void> {
    await this.writeCheckpoint(checkpointOf(book));
  }

  /** Stores a checkpoint taken earlier: only once its revision is stored. */
  async writeCheckpoint(checkpoint: PlanCheckpoint): Promise<void> {
    await this.pool.query(
      'INSERT INTO plan_checkpoints (revision, snapshot) VALUES ($1, $2) ON CONFLICT (revision) DO NOTHING',
      [checkpoint.revision, JSON.stringify(checkpoint.snapshot)],
    );
  }

  /** The revision of the last checkpoint at or before `revision` (0: none). */
  async checkpointBefore(revision: number): Promise<number> {
    const { rows } = await this.pool.query<{ revision: string }>(
      'SELECT max(revision) AS revision FROM plan_checkpoints WHERE revision <= $1',
      [revision],
    );
    return rows[0]?.revision ? Number(rows[0].revision) : 0;
  }

  /**
   * The plan at `revision` (the latest when absent): the last checkpoint at or before it, and the
   * changes after that, replayed. With `only`, a book as that node's executor keeps it.
   */
  async book(options: { revision?: number; only?: string } = {}): Promise<PlanBook> {
    const head = await this.head();
    const revision = Math.min(options.revision ?? head, head);
    if (options.revision !== undefined) await this.assertKept(revision);
    const from = await this.checkpointBefore(revision);
    let book: PlanBook;
    if (from > 0) {
      const { rows } = await this.pool.query<{ snapshot: string }>(
        'SELECT snapshot FROM plan_checkpoints WHERE revision = $1',
        [from],
      );
      const snapshot = JSON.parse(rows[0]!.snapshot) as PlanChange;
      book = new PlanBook({ revision: from - 1, ...(options.only ? { only: options.only } : {}) });
      await this.applyTo(book, snapshot);
    } else {
      book = new PlanBook(options.only ? { only: options.only } : {});
    }
    // The fragments of the changes after the checkpoint are read at once, not change by change
    // (all they carry: one held now may be let go and carried again before the last).
    const changes = (await this.changes(from + 1, revision)).map((r) => r.change);
    const bodies = await this.fragments(changes.flatMap((c) => c.fragments));
    for (const change of changes) this.applyWith(book, change, (d) => bodies.get(d));
    return book;
  }

  /** Where `book` gets the fragments of `change` it does not hold yet: read from the ledger. */
  async sourceFor(book: PlanBook, change: PlanChange): Promise<FragmentSource> {
    const missing = change.fragments.filter((d) => !book.holds(d));
    const bodies = missing.length > 0 ? await this.fragments(missing) : new Map();
    return (d) => bodies.get(d);
  }

  /** Applies a change to a book, its fragments read from the ledger. */
  async applyTo(book: PlanBook, change: PlanChange): Promise<void> {
    this.applyWith(book, change, await this.sourceFor(book, change));
  }

  private applyWith(book: PlanBook, change: PlanChange, source: FragmentSource): void {
    try {
      book.apply(change, source);
    } catch (error) {
      throw new NetledgerError(
        'PLAN.LEDGER_INCONSISTENT',
        `the plan ledger cannot resolve revision ${change.revision}`,
        {
          cause: error,
        },
      );
    }
  }
}
