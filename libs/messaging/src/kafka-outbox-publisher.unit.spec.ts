import { describe, expect, it } from 'vitest';
import { KafkaJSNonRetriableError, KafkaJSProtocolError, type Kafka } from 'kafkajs';
import { KafkaOutboxPublisher } from './kafka-outbox-publisher';

/** A client whose producers fail their sends as told; counts the producers made and closed. */
function fakeKafka(failures: Error[]) {
  const made: { sent: number; closed: boolean }[] = [];
  const kafka = {
    producer: () => {
      const p = { sent: 0, closed: false };
      made.push(p);
      return {
        connect: async () => undefined,
        disconnect: async () => void (p.closed = true),
        send: async () => {
          const failure = failures.shift();
          if (failure) throw failure;
          p.sent++;
          return [];
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, made };
}

const message = { topic: 't', key: 'k', value: 'v' };
const protocolError = (type: string) =>
  new KafkaJSProtocolError({ message: type, type, code: 45, retriable: false } as never);

describe('KafkaOutboxPublisher', () => {
  it('gives up a producer whose idempotent session the broker refuses, and sends with a new one', async () => {
    // KafkaJS wraps the broker's refusal: the type is on the cause.
    const refused = Object.assign(
      new KafkaJSNonRetriableError(protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER')),
      {
        cause: protocolError('OUT_OF_ORDER_SEQUENCE_NUMBER'),
      },
    );
    const { kafka, made } = fakeKafka([refused]);
    const publisher = new KafkaOutboxPublisher(kafka);
    await expect(publisher.publish([message])).rejects.toBe(refused);
    expect(made.map((p) => p.closed)).toEqual([true, false]);
    await publisher.publish([message]);
    expect(made[1]!.sent).toBe(1);
  });

  it('keeps its producer after any other failure', async () => {
    const { kafka, made } = fakeKafka([new Error('broker unreachable')]);
    const publisher = new KafkaOutboxPublisher(kafka);
    await expect(publisher.publish([message])).rejects.toThrow('broker unreachable');
    await publisher.publish([message]);
    expect(made).toHaveLength(1);
    expect(made[0]!.sent).toBe(1);
  });
});
