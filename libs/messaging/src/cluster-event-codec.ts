import { NetledgerError, type RecordedEvent } from '@netledger/model';

/** A recorded event as a Kafka message value (cluster-events, node events): plain JSON. */
export function encodeEventMessage(event: RecordedEvent): string {
  return JSON.stringify({ ...event, recordedAt: event.recordedAt.toISOString() });
}

/**
 * Reads an event message back; throws MESSAGE.INVALID when the value is not one (a consumer
 * records that and skips it, it does not crash).
 */
export function decodeEventMessage(value: Buffer | string | null): RecordedEvent {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(value === null ? 'null' : value.toString()) as Record<string, unknown>;
  } catch (cause) {
    throw new NetledgerError('MESSAGE.INVALID', 'event message is not JSON', { cause });
  }
  const ok =
    parsed !== null &&
    typeof parsed.eventId === 'string' &&
    typeof parsed.position === 'number' &&
    typeof parsed.streamId === 'string' &&
    typeof parsed.streamVersion === 'number' &&
    typeof parsed.type === 'string' &&
    typeof parsed.schemaVersion === 'number' &&
    typeof parsed.recordedAt === 'string' &&
    typeof parsed.metadata === 'object';
  if (!ok)
    throw new NetledgerError(
      'MESSAGE.INVALID',
      'event message lacks eventId, position, streamId, streamVersion, type or schemaVersion',
    );
  return { ...(parsed as unknown as RecordedEvent), recordedAt: new Date(parsed.recordedAt as string) };
}
