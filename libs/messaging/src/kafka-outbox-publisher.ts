import { CompressionTypes, Partitioners, type Kafka, type Producer } from 'kafkajs';
import { useFastGzip } from './gzip-codec';

/** Batches larger than this travel gzip-compressed (plan changes: rules compress ~4:1). */
const COMPRESS_ABOVE_BYTES = 1024;
/**
 * One produce request carries at most this much (before compression): a record batch must fit
 * the broker's and the topic's message size limit (1 MiB by default), and a plan change's parts
 * are up to ~900 KiB each.
 */
const REQUEST_BYTES = 900 * 1024;

/** An outbox message as the relay hands it over. */
export interface PublishableMessage {
  readonly topic: string;
  readonly key: string;
  readonly value: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly partition?: number;
}

/**
 * Publishes outbox batches with an idempotent producer (acks=all, one request in flight), so the
 * broker keeps each key's messages in the order given and drops the producer's own retries.
 */
export class KafkaOutboxPublisher {
  private producer: Producer;
  private connected: Promise<void> | undefined;

  constructor(private readonly kafka: Kafka) {
    useFastGzip();
    this.producer = this.newProducer();
  }

  private newProducer(): Producer {
    return this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      createPartitioner: Partitioners.DefaultPartitioner,
      // Unbounded count, bounded time: the idempotent producer needs room to retry, and a batch
      // that still fails after 30 s goes back to the relay, which sends it again later.
      retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 30_000 },
    });
  }

  /**
   * Errors after which this producer's idempotent session is of no more use: the broker refuses
   * every later batch of it (seen after a broker froze with requests in flight: the relay sent the
   * same batch, and was refused, for minutes). A new producer gets a new producer id.
   */
  private static readonly SESSION_LOST = new Set([
    'OUT_OF_ORDER_SEQUENCE_NUMBER',
    'INVALID_PRODUCER_EPOCH',
    'UNKNOWN_PRODUCER_ID',
    'INVALID_PRODUCER_ID_MAPPING',
  ]);

  async publish(messages: readonly PublishableMessage[]): Promise<void> {
    try {
      await this.send(messages);
    } catch (error) {
      if (KafkaOutboxPublisher.SESSION_LOST.has(protocolErrorType(error) ?? '')) {
        const lost = this.producer;
        this.producer = this.newProducer();
        this.connected = undefined;
        await lost.disconnect().catch(() => undefined);
      }
      throw error;
    }
  }

  private async send(messages: readonly PublishableMessage[]): Promise<void> {
    this.connected ??= this.producer.connect();
    await this.connected;
    const byTopic = new Map<string, PublishableMessage[]>();
    for (const m of messages) {
      const list = byTopic.get(m.topic);
      if (list) list.push(m);
      else byTopic.set(m.topic, [m]);
    }
    for (const [topic, list] of byTopic) {
      // NOTE: requests go one after the other (one in flight), so per-key order holds across them.
      for (const request of inRequests(list)) {
        const bytes = request.reduce((n, m) => n + m.value.length, 0);
        await this.producer.send({
          topic,
          acks: -1,
          ...(bytes > COMPRESS_ABOVE_BYTES ? { compression: CompressionTypes.GZIP } : {}),
          messages: request.map((m) => ({
            key: m.key,
            value: m.value,
            ...(m.headers ? { headers: { ...m.headers } } : {}),
            ...(m.partition !== undefined ? { partition: m.partition } : {}),
          })),
        });
      }
    }
  }

  async close(): Promise<void> {
    if (this.connected) await this.producer.disconnect();
    this.connected = undefined;
  }
}

/**
 * Consecutive runs of messages of at most REQUEST_BYTES each (a larger message goes alone): each
 * run is one produce request the broker takes under its 1 MiB message size.
 */
export function inRequests<M extends { readonly value: string }>(list: readonly M[]): M[][] {
  const out: M[][] = [];
  let current: M[] = [];
  let bytes = 0;
  for (const m of list) {
    if (current.length > 0 && bytes + m.value.length > REQUEST_BYTES) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(m);
    bytes += m.value.length;
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** The Kafka protocol error a KafkaJS error carries, itself or as a cause (KafkaJS wraps them). */
function protocolErrorType(error: unknown): string | undefined {
  for (let e = error as { type?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 5; depth++) {
    if (typeof e.type === 'string') return e.type;
    e = e.cause as typeof e;
  }
  return undefined;
}
