import { randomUUID } from 'node:crypto';
import type { PgEventStore } from '@netledger/event-store';
import { encodeEventMessage, inRequests } from '@netledger/messaging';
import { kubeStreamId, type KubeObject, type RecordedEvent } from '@netledger/model';
import type { Producer } from 'kafkajs';

/** An object's stream, as the ingester names it. */
export const streamOf = (o: KubeObject) =>
  kubeStreamId(o.kind, o.kind === 'Node' ? undefined : o.namespace, o.name);

/**
 * Objects recorded and published as the ingester does it (KubeObjectApplied on each object's
 * stream, then the events on cluster-events), for tests and benches that feed the planner without
 * an apiserver. Keeps each stream's version; one object per stream per call.
 */
export class Ingested {
  private readonly versions = new Map<string, number>();

  constructor(
    private readonly store: PgEventStore,
    private readonly producer: Producer,
    private readonly topic: string,
  ) {}

  /** The version each stream was last written at. */
  streamVersions(): ReadonlyMap<string, number> {
    return this.versions;
  }

  /** Appends the objects in one transaction; returns the recorded events (not yet published). */
  async record(objects: readonly KubeObject[]): Promise<RecordedEvent[]> {
    return this.store.transaction((c) =>
      this.store.appendToStreams(
        c,
        objects.map((o) => {
          const streamId = streamOf(o);
          const expected = this.versions.get(streamId) ?? 0;
          this.versions.set(streamId, expected + 1);
          return {
            streamId,
            expected,
            events: [
              {
                eventId: randomUUID(),
                type: 'KubeObjectApplied',
                schemaVersion: 2,
                data: { object: o },
                metadata: {},
              },
            ],
          };
        }),
      ),
    );
  }

  /** Publishes in order, in requests the broker takes, as the relay does. */
  async publish(events: readonly RecordedEvent[]): Promise<void> {
    const messages = events.map((e) => ({ key: e.streamId, value: encodeEventMessage(e) }));
    for (const request of inRequests(messages))
      await this.producer.send({ topic: this.topic, acks: -1, messages: request });
  }
}
