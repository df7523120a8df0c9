import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Kafka } from 'kafkajs';
import type { Pool } from 'pg';
import { createPool, PgEventStore } from '@netledger/event-store';
import { kubeConfigFor } from '@netledger/kube';
import { decodeEventMessage, topicNames } from '@netledger/messaging';
import { CLUSTER_EVENT_UPCASTERS, CLUSTER_EVENT_VERSIONS, type RecordedEvent } from '@netledger/model';
import { runService, type RunningService } from '@netledger/service';
import { IngesterModule } from '../../apps/ingester/src/ingester.module';
import { FakeApiServer } from '../support/fake-apiserver';
import { eventually, TopicReader } from '../support/kafka-reader';
import { rawNode, rawService, rawSlice } from '../support/kube';
import { createTestDatabase, testKafka, uniqueSuffix } from '../support/services';
import { inject } from 'vitest';
import { kafkaEnv } from '../support/kafka-env';

describe('ingester: Kubernetes watches become events, and cluster-events messages', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let pool: Pool;
  let store: PgEventStore;
  let server: FakeApiServer;
  let kafka: Kafka;
  let reader: TopicReader;
  let ingester: RunningService | undefined;
  let env: Record<string, string>;
  const prefix = `test-${uniqueSuffix()}`;

  const svc = (name: string, clusterIP: string, extra: Record<string, unknown> = {}) =>
    ({ ...rawService('default', name, { clusterIP }), ...extra }) as Record<string, unknown>;

  async function start(): Promise<void> {
    ingester = await runService('ingester', 0, () => IngesterModule.forRoot(env), env);
  }
  async function stop(): Promise<void> {
    await ingester?.stop();
    ingester = undefined;
  }
  const events = async (): Promise<RecordedEvent[]> => store.readAll(0, 10_000);
  const summary = (list: RecordedEvent[]) => list.map((e) => `${e.type} ${e.streamId}`);

  beforeAll(async () => {
    db = await createTestDatabase();
    pool = createPool(db.url);
    store = new PgEventStore(pool, { upcasters: CLUSTER_EVENT_UPCASTERS, versions: CLUSTER_EVENT_VERSIONS });
    server = new FakeApiServer({ token: 'ingester-token', bookmarkMs: 100 });
    const url = await server.start();
    const dir = mkdtempSync(join(tmpdir(), 'nl-ingester-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(kubeconfig, kubeConfigFor(url, 'ingester-token').exportConfig());
    env = {
      DATABASE_URL: db.url,
      KAFKA_BROKERS: inject('kafkaBrokers'),
      ...kafkaEnv(),
      KUBECONFIG: kubeconfig,
      NETLEDGER_TOPIC_PREFIX: prefix,
      CLUSTER_EVENTS_PARTITIONS: '3',
      HTTP_PORT: '0',
      LOG_FORMAT: 'text',
    };
    kafka = testKafka();
    server.apply(rawNode('node-a', '192.168.0.2', '10.244.1.0/24') as Record<string, unknown>);
    server.apply(svc('web', '10.96.0.10'));
    server.apply(
      rawSlice(
        'default',
        'web-1',
        'web',
        [{ name: 'p80', port: 80 }],
        [{ ip: '10.244.1.5', node: 'node-a' }],
      ) as Record<string, unknown>,
    );
    server.apply(svc('broken', '10.96.0.300'));
    await start();
    reader = new TopicReader(kafka, topicNames(prefix).clusterEvents);
    await reader.start();
  });
  afterAll(async () => {
    await stop();
    await reader?.stop();
    await server?.stop();
    await pool?.end();
    await db?.drop();
  });

  it('lists every kind and records each object, rejecting the invalid one with its reason', async () => {
    await eventually(async () => (await events()).length >= 4, 'initial events');
    const list = await events();
    expect(summary(list).sort()).toEqual([
      'KubeObjectApplied k8s/EndpointSlice/default/web-1',
      'KubeObjectApplied k8s/Node/node-a',
      'KubeObjectApplied k8s/Service/default/web',
      'KubeObjectRejected k8s-rejected/Service',
    ]);
    const rejection = list.find((e) => e.type === 'KubeObjectRejected')!;
    expect(rejection.data).toMatchObject({
      kind: 'Service',
      namespace: 'default',
      name: 'broken',
      field: 'spec.clusterIPs[0]',
    });
    const applied = list.find((e) => e.streamId === 'k8s/Service/default/web')!;
    expect(applied.metadata.sourceResourceVersion).toBe('102');
    expect((applied.data as { object: { clusterIPs: string[] } }).object.clusterIPs).toEqual(['10.96.0.10']);
  });

  it('publishes each accepted event to cluster-events keyed by its stream, and nothing for rejections', async () => {
    await eventually(() => reader.messages.length >= 3, 'cluster-events messages');
    const decoded = reader.messages.map((m) => ({ key: m.key, event: decodeEventMessage(m.value) }));
    expect(decoded.map((d) => d.key).sort()).toEqual([
      'k8s/EndpointSlice/default/web-1',
      'k8s/Node/node-a',
      'k8s/Service/default/web',
    ]);
    for (const d of decoded) expect(d.event.streamId).toBe(d.key);
  });

  it('follows the watch: a real change is an event, a status-only change is not (its resourceVersion is kept), a delete is', async () => {
    const before = (await events()).length;
    server.apply(svc('web', '10.96.0.10', { status: { loadBalancer: {}, conditions: [{ type: 'Ready' }] } }));
    const statusOnlyRv = server.resourceVersion;
    server.apply(svc('web', '10.96.0.11'));
    server.delete('EndpointSlice', 'default', 'web-1');
    await eventually(async () => (await events()).length >= before + 2, 'watch events');
    await new Promise((r) => setTimeout(r, 300));
    const fresh = (await events()).slice(before);
    // Each kind has its own watch: order holds within a kind, not across kinds.
    expect(summary(fresh).sort()).toEqual([
      'KubeObjectApplied k8s/Service/default/web',
      'KubeObjectDeleted k8s/EndpointSlice/default/web-1',
    ]);
    expect(fresh.find((e) => e.type === 'KubeObjectApplied')!.streamVersion).toBe(2);
    expect(fresh.find((e) => e.type === 'KubeObjectDeleted')!.data).toEqual({
      kind: 'EndpointSlice',
      namespace: 'default',
      name: 'web-1',
      inferred: false,
    });
    const { rows } = await pool.query(
      "SELECT resource_version FROM ingester_objects WHERE stream_id = 'k8s/Service/default/web'",
    );
    expect(Number(rows[0].resource_version)).toBeGreaterThan(statusOnlyRv);
  });

  it('after a restart, resumes from the stored resourceVersion without listing, losing nothing', async () => {
    await stop();
    const before = (await events()).length;
    const listsBefore = server.requests.filter((r) => !r.includes('watch=true')).length;
    server.apply(svc('api', '10.96.0.20'));
    server.apply(rawNode('node-b', '192.168.0.3', '10.244.2.0/24') as Record<string, unknown>);
    await start();
    await eventually(async () => (await events()).length >= before + 2, 'events after restart');
    expect(summary((await events()).slice(before)).sort()).toEqual([
      'KubeObjectApplied k8s/Node/node-b',
      'KubeObjectApplied k8s/Service/default/api',
    ]);
    expect(server.requests.filter((r) => !r.includes('watch=true')).length).toBe(listsBefore);
  });

  it('on 410 Gone, relists and records deletions that happened while it was away', async () => {
    await stop();
    const before = (await events()).length;
    server.delete('Service', 'default', 'api');
    server.apply(svc('db', '10.96.0.30'));
    server.compact();
    await start();
    await eventually(async () => (await events()).length >= before + 2, 'events after relist');
    const fresh = (await events()).slice(before);
    expect(summary(fresh).sort()).toEqual([
      'KubeObjectApplied k8s/Service/default/db',
      'KubeObjectDeleted k8s/Service/default/api',
    ]);
    expect(fresh.find((e) => e.type === 'KubeObjectDeleted')!.data).toMatchObject({ inferred: true });
  });

  it('rides out dropped watch connections without losing or repeating a change', async () => {
    const before = (await events()).length;
    for (let i = 0; i < 20; i++) {
      server.apply(svc(`s${i}`, `10.96.1.${i + 1}`));
      if (i % 5 === 2) server.dropWatches();
    }
    await eventually(
      async () => (await events()).length >= before + 20,
      'events through dropped connections',
    );
    await new Promise((r) => setTimeout(r, 300));
    const fresh = (await events()).slice(before);
    expect(fresh).toHaveLength(20);
    expect(new Set(fresh.map((e) => e.streamId)).size).toBe(20);
  });
});
