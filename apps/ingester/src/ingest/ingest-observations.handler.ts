import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { PgEventStore, newEventId } from '@netledger/event-store';
import { topicNames } from '@netledger/messaging';
import { decideObservation, kubeStreamId, type KnownObject, type Observation } from '@netledger/model';
import { Metrics } from '@netledger/service';
import type { PoolClient } from 'pg';
import type { Counter } from 'prom-client';
import { INGESTER_SETTINGS, type IngesterSettings } from '../ingester-settings';
import { IngestObservations, type IngestOutcome } from './ingest-observations.command';

/**
 * Turns observations into events: decides each against what was last recorded for the object,
 * appends to the object's stream with the expected version, and records the cluster-events
 * message in the same transaction (outbox) together with the watch's resourceVersion, so a
 * restart resumes exactly where the store stands.
 */
@CommandHandler(IngestObservations)
export class IngestObservationsHandler implements ICommandHandler<IngestObservations, IngestOutcome> {
  private readonly topic: string;
  private readonly events: Counter<'kind' | 'outcome'>;

  constructor(
    private readonly store: PgEventStore,
    @Inject(INGESTER_SETTINGS) settings: IngesterSettings,
    metrics: Metrics,
  ) {
    this.topic = topicNames(settings.topicPrefix).clusterEvents;
    this.events = metrics.counter({
      name: 'netledger_ingester_observations_total',
      help: 'Watch observations by outcome (append, reject, ignore).',
      labelNames: ['kind', 'outcome'],
    });
  }

  async execute(command: IngestObservations): Promise<IngestOutcome> {
    return this.store.transaction(async (client) => {
      const known = await this.loadKnown(client, command);
      const observations = [...command.observations];
      if (command.relist) {
        // Objects recorded as present but absent from a full list were deleted while nobody watched.
        const listed = new Set<string>();
        for (const o of observations) {
          if (o.type !== 'seen') continue;
          const m = (o.raw as { metadata?: { namespace?: string; name?: string } }).metadata;
          if (m?.name) listed.add(kubeStreamId(command.kind, m.namespace, m.name));
        }
        for (const [streamId, row] of known) {
          if (row.digest !== null && !listed.has(streamId)) {
            observations.push({
              type: 'gone',
              kind: command.kind,
              namespace: row.namespace || undefined,
              name: row.name,
              resourceVersion: command.resourceVersion,
              inferred: true,
            });
          }
        }
      }
      let appended = 0;
      let rejected = 0;
      let ignored = 0;
      for (const observation of observations) {
        const outcome = await this.ingest(client, observation, known);
        if (outcome === 'append') appended++;
        else if (outcome === 'reject') rejected++;
        else ignored++;
        this.events.inc({ kind: command.kind, outcome });
      }
      await client.query(
        `INSERT INTO ingester_resource_versions (kind, resource_version) VALUES ($1, $2)
         ON CONFLICT (kind) DO UPDATE SET resource_version = EXCLUDED.resource_version, updated_at = now()`,
        [command.kind, command.resourceVersion],
      );
      return { appended, rejected, ignored };
    });
  }

  private async ingest(
    client: PoolClient,
    observation: Observation,
    known: Map<string, KnownRow>,
  ): Promise<'append' | 'reject' | 'ignore'> {
    const decision = decideObservation(observation, (streamId) => known.get(streamId));
    if (decision.outcome === 'ignore') {
      if (decision.reason === 'unchanged' && observation.type === 'seen') {
        // Status-only noise: no event, but the object's resourceVersion is recorded all the same.
        const m = (observation.raw as { metadata: { namespace?: string; name: string } }).metadata;
        const kind = (observation.raw as { kind: string }).kind;
        await client.query('UPDATE ingester_objects SET resource_version = $2 WHERE stream_id = $1', [
          kubeStreamId(kind, m.namespace, m.name),
          observation.resourceVersion,
        ]);
      }
      return 'ignore';
    }
    const metadata = { sourceResourceVersion: observation.resourceVersion, correlationId: newEventId() };
    if (decision.outcome === 'reject') {
      const d = decision.event.data;
      const objectKey = `${d.kind}/${d.namespace ?? ''}/${d.name ?? ''}`;
      const seen = await client.query(
        `INSERT INTO ingester_rejections (object_key, resource_version) VALUES ($1, $2)
         ON CONFLICT (object_key) DO UPDATE SET resource_version = EXCLUDED.resource_version
         WHERE ingester_rejections.resource_version <> EXCLUDED.resource_version
         RETURNING 1`,
        [objectKey, observation.resourceVersion],
      );
      // The same version of the same object was rejected already (a relist sees it again).
      if (seen.rowCount === 0) return 'ignore';
      await this.store.appendWith(client, decision.streamId, 'any', [
        { eventId: newEventId(), ...decision.event, metadata },
      ]);
      return 'reject';
    }
    const current = known.get(decision.streamId);
    const result = await this.store.appendWith(
      client,
      decision.streamId,
      current ? current.streamVersion : 'no_stream',
      [{ eventId: newEventId(), ...decision.event, metadata }],
    );
    // The recorded event is the cluster-events message: the relay reads it from the events table.
    await this.store.enqueueEvents(
      client,
      result.events.map((event) => ({
        topic: this.topic,
        key: decision.streamId,
        eventPosition: event.position,
      })),
    );
    const row: KnownRow = {
      streamVersion: result.version,
      digest: decision.digest,
      namespace: decision.namespace ?? '',
      name: decision.name,
    };
    known.set(decision.streamId, row);
    await client.query(
      `INSERT INTO ingester_objects (stream_id, kind, namespace, name, stream_version, digest, resource_version)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (stream_id) DO UPDATE SET stream_version = EXCLUDED.stream_version, digest = EXCLUDED.digest,
         resource_version = EXCLUDED.resource_version`,
      [
        decision.streamId,
        decision.kind,
        row.namespace,
        row.name,
        row.streamVersion,
        row.digest,
        observation.resourceVersion,
      ],
    );
    return 'append';
  }

  /** What was recorded for the objects concerned (every object of the kind, for a relist). */
  private async loadKnown(client: PoolClient, command: IngestObservations): Promise<Map<string, KnownRow>> {
    const params: unknown[] = [command.kind];
    let where = 'kind = $1';
    if (!command.relist) {
      const ids = command.observations.map((o) => {
        if (o.type === 'gone') return kubeStreamId(o.kind, o.namespace, o.name);
        const m = (o.raw as { metadata?: { namespace?: string; name?: string } }).metadata;
        return kubeStreamId(command.kind, m?.namespace, m?.name ?? '');
      });
      params.push(ids);
      where += ' AND stream_id = ANY($2)';
    }
    const { rows } = await client.query<{
      stream_id: string;
      namespace: string;
      name: string;
      stream_version: string;
      digest: string | null;
    }>(
      `SELECT stream_id, namespace, name, stream_version, digest FROM ingester_objects WHERE ${where} FOR UPDATE`,
      params,
    );
    return new Map(
      rows.map((r) => [
        r.stream_id,
        { streamVersion: Number(r.stream_version), digest: r.digest, namespace: r.namespace, name: r.name },
      ]),
    );
  }
}

interface KnownRow extends KnownObject {
  readonly namespace: string;
  readonly name: string;
}
