import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { decodeNodeState, type NodeState } from '@netledger/model';
import { nodeStatesEqual } from '@netledger/planner-core';
import { AppProcess } from '../support/app-process';
import { KubeControlPlane, OwnKafkaBroker } from '../support/kube-control-plane';
import { planFromScratch, READER_TOKEN } from '../support/pipeline';
import { createTestDatabase, uniqueSuffix } from '../support/services';
import { testPlanKeys } from '../support/plan-keys';

/**
 * The whole system against a real kube-apiserver (built from k8s.io/kubernetes by scripts/kube):
 * kubectl changes flow through the ingester, the event store, the planner, Kafka and the
 * executors, and the API shows every node's desired and applied revision converging on the
 * from-scratch plan of what the apiserver holds. The broker is one of the test's own, so that it
 * can be restarted without disturbing other tests.
 */
const NODES = ['node-a', 'node-b', 'node-c'];
const demoCluster = readFileSync(join(__dirname, '..', '..', 'scripts', 'demo-cluster.yaml'), 'utf8');

let kube: KubeControlPlane;
let broker: OwnKafkaBroker;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ingester: AppProcess;
let planner: AppProcess;
let api: AppProcess;
const executors: AppProcess[] = [];

beforeAll(async () => {
  kube = new KubeControlPlane();
  broker = new OwnKafkaBroker();
  const started = await Promise.allSettled([kube.up(), broker.up()]);
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  db = await createTestDatabase();
  const prefix = `kube-${uniqueSuffix()}`;
  const env: Record<string, string> = {
    DATABASE_URL: db.url,
    KAFKA_BROKERS: broker.brokers,
    KUBECONFIG: kube.ingesterKubeconfig,
    NETLEDGER_TOPIC_PREFIX: prefix,
    CLUSTER_EVENTS_PARTITIONS: '4',
    PLANNER_GROUP: `planner-${prefix}`,
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    // A consumer that stops fetching is replaced well within the test's wait.
    KAFKA_CONSUMER_STALL_MS: '20000',
    API_TOKENS: `${READER_TOKEN}:reader`,
    API_STATUS_GROUP: `api-${prefix}`,
    CLUSTER_CIDR: '10.244.0.0/16',
    LOG_FORMAT: 'text',
    ...testPlanKeys(),
  };
  // The API as deploy/ runs it: executors authenticated by TokenReview, as its own ServiceAccount.
  const apiEnv = {
    ...env,
    API_TOKEN_REVIEW: 'on',
    KUBECONFIG: await serviceAccountKubeconfig('netledger-api'),
  };
  ingester = new AppProcess('ingester', env);
  planner = new AppProcess('planner', env);
  api = new AppProcess('api', apiEnv);
  await ingester.start();
  await planner.start();
  await api.start();
  const stateDir = mkdtempSync(join(tmpdir(), 'nl-kube-executors-'));
  for (const node of NODES) {
    const executor = new AppProcess('executor', {
      ...env,
      NODE_NAME: node,
      DRY_RUN: 'true',
      STATE_FILE: join(stateDir, `${node}.json`),
    });
    await executor.start();
    executors.push(executor);
  }
}, 300_000);

afterAll(async () => {
  for (const app of [...executors, api, planner, ingester]) await app?.stop().catch(() => undefined);
  await Promise.allSettled([kube?.down(), broker?.down()]);
  await db?.drop();
}, 120_000);

async function apiGet<T>(path: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${api.port}${path}`, {
    headers: { authorization: `Bearer ${READER_TOKEN}` },
  });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** What the apiserver holds now, as `kubectl get -o json` gives it. */
async function clusterObjects(): Promise<Record<string, unknown>[]> {
  const list = JSON.parse(
    await kube.kubectl(['get', 'nodes,services,endpointslices', '--all-namespaces', '-o', 'json']),
  ) as { items: Record<string, unknown>[] };
  return list.items;
}

interface NodeRow {
  name: string;
  desiredRevision: number;
  appliedRevision: number | null;
}

/**
 * Whether every node's desired state (the API) equals the from-scratch plan of the apiserver's
 * objects, and its executor has applied that revision. Returns what differs, for the message.
 */
async function divergence(): Promise<string | undefined> {
  const expected = planFromScratch(await clusterObjects());
  const rows = (await apiGet<{ nodes: NodeRow[] }>('/v1/nodes')).nodes;
  for (const [node, state] of expected) {
    const row = rows.find((r) => r.name === node);
    if (!row) return `${node} is not listed`;
    const served = await apiGet<{ revision: number; state: unknown }>(`/v1/nodes/${node}/state`);
    const desired: NodeState = decodeNodeState(served.state);
    if (!nodeStatesEqual(desired, state))
      return `${node}: desired state at #${served.revision} is not the plan`;
    if (row.appliedRevision !== row.desiredRevision)
      return `${node}: applied #${row.appliedRevision} of desired #${row.desiredRevision}`;
  }
  return undefined;
}

async function converge(timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined = 'not checked';
  while (Date.now() < deadline) {
    try {
      last = await divergence();
      if (last === undefined) return;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  // What the moving parts said last: the way to tell a lost message from a stuck consumer.
  // CI shows only the end of a failure, so what differs comes last too.
  const tails = [ingester, planner, api, ...executors]
    .map((a) => `--- ${a.app}:\n${a.output.slice(-3000)}`)
    .join('\n');
  throw new Error(
    `did not converge within ${timeoutMs} ms: ${last}\n${tails}\n--- did not converge: ${last}`,
  );
}

/** kubectl, retried while the apiserver is away: the change is made, however long that takes. */
async function kubectlUntilDone(args: string[], input?: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await kube.kubectl(args, input);
      return;
    } catch (error) {
      if (attempt > 240) throw error;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function churnService(n: number): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { namespace: 'default', name: `churn-${n}` },
    spec: { type: 'ClusterIP', ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP' }] },
  });
}

function webSlice(ips: readonly string[]): string {
  return JSON.stringify({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: { namespace: 'default', name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } },
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: ips.map((ip, i) => ({
      addresses: [ip],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: NODES[i % NODES.length],
    })),
  });
}

describe('Netledger against a real kube-apiserver', () => {
  it('turns kubectl apply and delete of Nodes, Services and EndpointSlices into every node state, applied', async () => {
    await kube.kubectl(['apply', '-f', '-'], demoCluster);
    await kube.kubectl([
      'patch',
      'service',
      'shop',
      '--subresource=status',
      '--type=merge',
      '-p',
      '{"status":{"loadBalancer":{"ingress":[{"ip":"198.51.100.10"}]}}}',
    ]);
    await converge();
    const web = await apiGet<{ state: unknown }>('/v1/nodes/node-a/state');
    const rules = [...decodeNodeState(web.state).chains.values()].flatMap((c) => c.rules);
    expect(rules.some((r) => r.includes('default/web:http cluster IP'))).toBe(true);
    expect(rules.some((r) => r.includes('198.51.100.10'))).toBe(true);

    await kube.kubectl(['delete', 'service', 'api']);
    await kube.kubectl(['delete', 'endpointslice', 'api-1']);
    await kube.kubectl(['delete', 'node', 'node-c']);
    await converge();
    const after = await apiGet<{ state: unknown }>('/v1/nodes/node-a/state');
    const rulesAfter = [...decodeNodeState(after.state).chains.values()].flatMap((c) => c.rules);
    expect(rulesAfter.some((r) => r.includes('default/api:http'))).toBe(false);
    // node-a no longer routes to node-c's pods.
    expect(decodeNodeState(after.state).routes.size).toBe(1);
    await kubectlUntilDone(['apply', '-f', '-'], demoCluster);
    await converge();
  }, 300_000);

  it("lets an executor's pod-bound ServiceAccount token read its own node's plan and nothing else (TokenReview)", async () => {
    /** A token of deploy/'s executor ServiceAccount, bound to a pod on `node`, for `audience`. */
    const executorToken = async (node: string, audience = 'netledger') => {
      const pod = `executor-${node}-${uniqueSuffix()}`.slice(0, 63);
      await kube.kubectl(
        ['apply', '-f', '-'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: pod, namespace: 'netledger' },
          spec: {
            nodeName: node,
            serviceAccountName: 'netledger-executor',
            automountServiceAccountToken: false,
            containers: [{ name: 'executor', image: 'netledger-executor:0.1.0' }],
          },
        }),
      );
      const made = await kube.kubectl([
        ...['create', 'token', 'netledger-executor', '-n', 'netledger', '--audience', audience],
        ...['--bound-object-kind', 'Pod', '--bound-object-name', pod, '--duration', '10m'],
      ]);
      return made.trim();
    };
    const status = async (path: string, token: string) =>
      (await fetch(`http://127.0.0.1:${api.port}${path}`, { headers: { authorization: `Bearer ${token}` } }))
        .status;
    const nodeA = await executorToken('node-a');
    expect(await status('/v1/plan/snapshot?node=node-a', nodeA)).toBe(200);
    expect(await status('/v1/nodes/node-a/state', nodeA)).toBe(200);
    expect(await status('/v1/plan/snapshot?node=node-b', nodeA)).toBe(403);
    expect(await status('/v1/nodes', nodeA)).toBe(403);
    expect(await status('/v1/audit', nodeA)).toBe(403);
    expect(await status('/v1/plan/snapshot?node=node-b', await executorToken('node-b'))).toBe(200);
    // A token for another audience, another ServiceAccount's, or none the apiserver knows: 401.
    expect(await status('/v1/plan/snapshot?node=node-a', await executorToken('node-a', 'other'))).toBe(401);
    const ingesterToken = (
      await kube.kubectl(['create', 'token', 'netledger-ingester', '-n', 'netledger'])
    ).trim();
    expect(await status('/v1/plan/snapshot?node=node-a', ingesterToken)).toBe(401);
    expect(await status('/v1/plan/snapshot?node=node-a', `${nodeA.slice(0, -4)}AAAA`)).toBe(401);
  }, 120_000);

  it('loses nothing while the apiserver, the ingester, the planner and the broker restart in turn, and the broker freezes', async () => {
    let streaming = true;
    let changes = 0;
    const stream = (async () => {
      while (streaming) {
        const n = 1 + (changes % 6);
        const ips = Array.from({ length: n }, (_, i) => `10.244.${1 + (i % 3)}.${100 + (changes % 150)}`);
        await kubectlUntilDone(['apply', '-f', '-'], webSlice(ips));
        // apply, not create: a retry after a create that did land must not fail.
        if (changes % 4 === 0) await kubectlUntilDone(['apply', '-f', '-'], churnService(changes));
        changes++;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // Each part goes away for a while and comes back, one at a time: [down, away, up, after].
    const outages: [() => Promise<unknown>, number, () => Promise<unknown>, number][] = [
      [() => kube.stopApiserver(), 3000, () => kube.startApiserver(), 2000],
      [() => ingester.kill(), 1000, () => ingester.start(), 2000],
      [() => planner.kill(), 1000, () => planner.start(), 2000],
      [() => broker.stop(), 2000, () => broker.start(), 3000],
    ];
    try {
      await pause(2000);
      for (const [down, away, up, after] of outages) {
        await down();
        await pause(away);
        await up();
        await pause(after);
      }
      await broker.freeze(35_000);
      await pause(3000);
    } finally {
      streaming = false;
      await stream;
    }
    expect(changes).toBeGreaterThan(10);
    await converge(180_000);
  }, 600_000);
});

/** A kubeconfig for one of deploy/'s ServiceAccounts: the ingester's, with that account's token. */
async function serviceAccountKubeconfig(account: string): Promise<string> {
  const config = parse(readFileSync(kube.ingesterKubeconfig, 'utf8')) as {
    users: { user: { token: string } }[];
  };
  config.users[0]!.user.token = (await kube.kubectl(['create', 'token', account, '-n', 'netledger'])).trim();
  const file = join(mkdtempSync(join(tmpdir(), 'nl-kubeconfig-')), 'kubeconfig');
  writeFileSync(file, stringify(config), { mode: 0o600 });
  return file;
}
