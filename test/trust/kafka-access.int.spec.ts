import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLevel, type Kafka } from 'kafkajs';
import {
  createKafka,
  ensureTopics,
  nodeStatusTopic,
  planTopic,
  topicNames,
  type TopicSpec,
} from '@netledger/messaging';
import { readKafkaSecurity } from '@netledger/process';
import { kafkaBrokers, testKafka, uniqueSuffix } from '../support/services';

const repo = join(__dirname, '..', '..');
const security = readKafkaSecurity();

/**
 * Each component's Kafka user against the real broker (TLS, SCRAM-SHA-512, ACLs made by
 * scripts/services kafka-user): an executor reads the plan and writes its status, and nothing
 * else: it cannot write the plan or the cluster's events, read other nodes' statuses, or use
 * another node's consumer groups. Without the broker's CA or with a wrong password, no one
 * connects at all.
 */
describe.skipIf(!security)('Kafka access: every component its own user, allowed only its job', () => {
  const prefix = `acl-${uniqueSuffix()}`;
  const topics = topicNames(prefix);
  let admin: ReturnType<Kafka['admin']>;
  const clients = new Map<string, Kafka>();
  let executorPassword = '';

  /** A user of the role, made by the services script; a client signed in as it. */
  async function userClient(role: string, node?: string): Promise<Kafka> {
    const user = `${prefix}-${node ?? role}`;
    const { stdout } = await promisify(execFile)(
      join(repo, 'scripts', 'services'),
      ['kafka-user', user, role, ...(node ? [node] : [])],
      { env: { ...process.env, NETLEDGER_TOPIC_PREFIX: prefix } },
    );
    const password = readFileSync(stdout.trim(), 'utf8').trim();
    if (role === 'executor') executorPassword = password;
    return client(user, password);
  }

  const client = (username: string, password: string, ca = security!.ca) =>
    createKafka(
      { brokers: kafkaBrokers(), clientId: username, security: { ca, username, password } },
      undefined,
      // One attempt: a refusal is the answer here, not something to wait out.
      { retry: { retries: 0 }, logLevel: logLevel.NOTHING },
    );

  /** Whether `kafka` may produce to `topic`: 'ok', or the broker's error type. */
  async function produce(kafka: Kafka, topic: string): Promise<string> {
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    try {
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key: 'plan', value: '{"forged":true}' }] });
      return 'ok';
    } catch (error) {
      return errorType(error);
    } finally {
      await producer.disconnect().catch(() => undefined);
    }
  }

  /** Whether `kafka` may read `topic` in group `groupId`: 'ok' once a message arrives, or the error. */
  async function consume(kafka: Kafka, topic: string, groupId: string): Promise<string> {
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, retry: { retries: 0 } });
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      return await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve('nothing read in 20 s'), 20_000);
        consumer.on(consumer.events.CRASH, ({ payload }) => {
          clearTimeout(timer);
          resolve(errorType(payload.error));
        });
        consumer
          .run({
            eachMessage: async () => {
              clearTimeout(timer);
              resolve('ok');
            },
          })
          .catch((error: unknown) => {
            clearTimeout(timer);
            resolve(errorType(error));
          });
      });
    } catch (error) {
      return errorType(error);
    } finally {
      await consumer.disconnect().catch(() => undefined);
    }
  }

  const errorType = (error: unknown): string => {
    let e = error as { type?: string; name?: string; cause?: unknown; originalError?: unknown } | undefined;
    for (let depth = 0; e && depth < 5; depth++) {
      if (e.type && e.type !== 'UNKNOWN') return e.type;
      e = (e.originalError ?? e.cause) as typeof e;
    }
    return (error as Error)?.name ?? String(error);
  };

  beforeAll(async () => {
    admin = testKafka().admin();
    await admin.connect();
    const clusterEvents: TopicSpec = { name: topics.clusterEvents, partitions: 1, config: {} };
    await ensureTopics(admin, [clusterEvents, planTopic(prefix), nodeStatusTopic(prefix)]);
    // Something on every topic, as the admin wrote it, for the readers to find.
    const producer = testKafka().producer();
    await producer.connect();
    for (const topic of [topics.clusterEvents, topics.plan, topics.nodeStatus])
      await producer.send({ topic, messages: [{ key: 'node-b', value: '{}' }] });
    await producer.disconnect();
    for (const [name, role, node] of [
      ['executor', 'executor', 'node-a'],
      ['planner', 'planner'],
      ['ingester', 'ingester'],
      ['api', 'api'],
    ] as const)
      clients.set(name, await userClient(role, node));
  }, 120_000);

  afterAll(async () => {
    await admin?.deleteTopics({ topics: Object.values(topics) }).catch(() => undefined);
    await admin?.disconnect();
  });

  it("an executor reads the plan and writes its status; it cannot write the plan or read other nodes' statuses", async () => {
    const executor = clients.get('executor')!;
    expect(await consume(executor, topics.plan, `netledger-executor-node-a-${uniqueSuffix()}`)).toBe('ok');
    expect(await produce(executor, topics.nodeStatus)).toBe('ok');
    expect(await produce(executor, topics.plan)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await produce(executor, topics.clusterEvents)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await consume(executor, topics.nodeStatus, `netledger-executor-node-a-${uniqueSuffix()}`)).toBe(
      'TOPIC_AUTHORIZATION_FAILED',
    );
    // Another node's consumer group is not its own (KafkaJS reports the broker's refusal of the
    // coordinator lookup only in its debug log, and then "coordinator not found").
    const logged: string[] = [];
    const watched = createKafka(
      {
        brokers: kafkaBrokers(),
        clientId: 'executor-node-a',
        security: { ...security!, username: `${prefix}-node-a`, password: executorPassword },
      },
      (_level, message, extra) => logged.push(`${message} ${JSON.stringify(extra)}`),
      { retry: { retries: 0 }, logLevel: logLevel.DEBUG },
    );
    expect(await consume(watched, topics.plan, `netledger-executor-node-b-${uniqueSuffix()}`)).toBe(
      'KafkaJSGroupCoordinatorNotFound',
    );
    expect(
      logged.some((l) =>
        /find group coordinator.*GROUP_AUTHORIZATION_FAILED|Group authorization failed/i.test(l),
      ),
    ).toBe(true);
    const executorAdmin = executor.admin();
    await executorAdmin.connect();
    try {
      const refused = await executorAdmin
        .createTopics({ topics: [{ topic: `${prefix}.evil`, numPartitions: 1 }] })
        .then(
          () => 'created',
          (error: { errors?: { type?: string }[] }) => error.errors?.map((e) => e.type).join(),
        );
      expect(refused).toBe('TOPIC_AUTHORIZATION_FAILED');
    } finally {
      await executorAdmin.disconnect();
    }
  }, 120_000);

  it('the planner writes the plan, the ingester the cluster events, the api reads statuses: each nothing more', async () => {
    const [planner, ingester, api] = ['planner', 'ingester', 'api'].map((n) => clients.get(n)!);
    expect(await produce(planner!, topics.plan)).toBe('ok');
    expect(await consume(planner!, topics.clusterEvents, `netledger-planner-${uniqueSuffix()}`)).toBe('ok');
    expect(await produce(planner!, topics.clusterEvents)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await produce(ingester!, topics.clusterEvents)).toBe('ok');
    expect(await produce(ingester!, topics.plan)).toBe('TOPIC_AUTHORIZATION_FAILED');
    expect(await consume(ingester!, topics.plan, `netledger-planner-${uniqueSuffix()}`)).toMatch(
      /AUTHORIZATION_FAILED/,
    );
    expect(await consume(api!, topics.nodeStatus, `netledger-api-${uniqueSuffix()}`)).toBe('ok');
    expect(await produce(api!, topics.plan)).toBe('TOPIC_AUTHORIZATION_FAILED');
  }, 120_000);

  it('lets no one in without the right password, or over a connection whose certificate it does not trust', async () => {
    expect(await produce(client(`${prefix}-executor`, 'not-the-password'), topics.nodeStatus)).toMatch(
      /SASL|Authentication|KafkaJSSASLAuthenticationError|KafkaJSConnectionError/i,
    );
    const otherCa = readFileSync(join(repo, 'test', 'support', 'plan-keys.ts')); // not a CA at all
    expect(await produce(client('admin', security!.password, otherCa), topics.plan)).not.toBe('ok');
    // No TLS, no SASL: the listener does not speak plaintext.
    const plain = createKafka({ brokers: kafkaBrokers(), clientId: 'plain' }, undefined, {
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
      connectionTimeout: 3000,
      requestTimeout: 3000,
    });
    expect(await produce(plain, topics.plan)).not.toBe('ok');
  }, 120_000);
});
