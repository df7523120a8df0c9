/**
 * Events as the event store keeps them. Data is plain JSON; `schemaVersion` says which shape it
 * has, and readers upcast older shapes to the current one (as the apiserver converts between API
 * versions).
 */

/** What a writer says about an event; the store adds position, version and time. */
export interface EventMetadata {
  /** The event or command that caused this one. */
  readonly causationId?: string;
  /** Ties together everything one original cause set off. */
  readonly correlationId?: string;
  /** resourceVersion of the Kubernetes object the event came from. */
  readonly sourceResourceVersion?: string;
  readonly [key: string]: unknown;
}

/** An event to append. */
export interface NewEvent<T extends string = string, D = unknown> {
  readonly eventId: string;
  readonly type: T;
  readonly schemaVersion: number;
  readonly data: D;
  readonly metadata: EventMetadata;
}

/** An event as stored. */
export interface RecordedEvent<T extends string = string, D = unknown> extends NewEvent<T, D> {
  /** Global position: a total order over all events, with gaps (a JS number: 2^53 is far off). */
  readonly position: number;
  readonly streamId: string;
  /** Version within the stream, from 1, without gaps. */
  readonly streamVersion: number;
  readonly recordedAt: Date;
}

/** Turns data of `fromVersion` into data of `fromVersion + 1`. */
export interface Upcaster {
  readonly type: string;
  readonly fromVersion: number;
  upcast(data: unknown): unknown;
}

/** Applies upcasters until the event has the current schema version of its type. */
export function upcast(
  event: RecordedEvent,
  upcasters: readonly Upcaster[],
  current: ReadonlyMap<string, number>,
): RecordedEvent {
  const target = current.get(event.type);
  if (target === undefined || event.schemaVersion >= target) return event;
  let data = event.data;
  let version = event.schemaVersion;
  while (version < target) {
    const step = upcasters.find((u) => u.type === event.type && u.fromVersion === version);
    if (!step) throw new Error(`no upcaster for ${event.type} v${version}`);
    data = step.upcast(data);
    version++;
  }
  return { ...event, data, schemaVersion: version };
}
