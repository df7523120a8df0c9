import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_CHANGE_BYTES } from '@netledger/messaging';
import { decodeNodeState, encodeNodeState, PLAN_CHANGED, type RecordedEvent } from '@netledger/model';
import { nodeStateOf, PlanBook } from '@netledger/planner-core';
import { runService, type RunningService } from '@netledger/service';
import { IngesterModule } from '../../apps/ingester/src/ingester.module';
import { PlannerModule } from '../../apps/planner/src/planner.module';
import { ApiModule } from '../../apps/api/src/api.module';
import { ProjectorService } from '../../apps/api/src/projections/projector.service';
import { runApi } from '../../apps/cli/src/main';
import { ApiPlanSource } from '../../apps/executor/src/execution/api-plan-source';
import { PlanViewService } from '../../apps/api/src/projections/plan-view.service';
import { LedgerRetention } from '../../apps/planner/src/planning/ledger-retention';
import { PlannerService } from '../../apps/planner/src/planning/planner.service';
import { eventually } from '../support/kafka-reader';
import { ADMIN_TOKEN, NODE_A_TOKEN, READER_TOKEN, testPipeline } from '../support/pipeline';
import { rawNode, rawService, rawSlice } from '../support/kube';

describe('api: the network state, now and then, and why', () => {
  let pipeline: Awaited<ReturnType<typeof testPipeline>>;
  let ingester: RunningService;
  let planner: RunningService;
  let api: RunningService;
  let base: string;
  const times: { revision: number; at: string }[] = [];

  const get = async (path: string, token: string | null = READER_TOKEN) => {
    const res = await fetch(`${base}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // text formats
    }
    return { status: res.status, body: body as Record<string, unknown> & string };
  };
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 300));
    const plannerService = planner.app.get(PlannerService);
    await eventually(async () => {
      const r = await get('/v1/nodes');
      const nodes = (r.body.nodes ?? []) as { name: string; desiredRevision: number }[];
      return nodes.length > 0 && nodes.every((n) => n.desiredRevision === plannerService.revision);
    }, 'the projections to catch up');
    await api.app.get(ProjectorService).catchUp();
  };

  /** An executor's source of its plan snapshot, from this API. */
  const snapshotSource = (node: string, token: string) =>
    new ApiPlanSource({ url: base, token, node, maxBytes: MAX_CHANGE_BYTES });

  const revisionOfA = async () =>
    ((await get('/v1/nodes')).body.nodes as { name: string; desiredRevision: number }[]).find(
      (n) => n.name === 'node-a',
    )!.desiredRevision;

  beforeAll(async () => {
    pipeline = await testPipeline();
    const { env, apiserver } = pipeline;
    ingester = await runService('ingester', 0, () => IngesterModule.forRoot(env), env);
    planner = await runService('planner', 0, () => PlannerModule.forRoot(env), env);
    api = await runService('api', 0, () => ApiModule.forRoot(env), env);
    base = `http://127.0.0.1:${api.config.httpPort}`;
    apiserver.apply(rawNode('node-a', '198.18.0.11', '10.244.1.0/24') as Record<string, unknown>);
    apiserver.apply(rawNode('node-b', '198.18.0.12', '10.244.2.0/24') as Record<string, unknown>);
    await settle();
    times.push({ revision: await revisionOfA(), at: new Date().toISOString() });
    apiserver.apply(
      rawService('default', 'web', {
        clusterIP: '10.96.0.10',
        ports: [{ name: 'http', port: 80 }],
      }) as Record<string, unknown>,
    );
    apiserver.apply(
      rawSlice(
        'default',
        'web-1',
        'web',
        [{ name: 'http', port: 8080 }],
        [{ ip: '10.244.2.5', node: 'node-b' }],
      ) as Record<string, unknown>,
    );
    apiserver.apply(rawService('default', 'broken', { clusterIP: '10.96.0.300' }) as Record<string, unknown>);
    await settle();
    times.push({ revision: await revisionOfA(), at: new Date().toISOString() });
  });
  afterAll(async () => {
    await api?.stop();
    await planner?.stop();
    await ingester?.stop();
    await pipeline?.close();
  });

  it('needs a bearer token, except for health, metrics and the OpenAPI document', async () => {
    expect((await get('/v1/nodes', null)).status).toBe(401);
    expect((await get('/v1/nodes', 'not-a-token')).body).toEqual({
      error: 'AUTH.UNAUTHENTICATED',
      message: 'a valid bearer token is required',
    });
    expect((await get('/healthz', null)).status).toBe(200);
    expect((await get('/metrics', null)).status).toBe(200);
    const doc = await get('/openapi.json', null);
    expect(doc.status).toBe(200);
    expect(Object.keys((doc.body as unknown as { paths: object }).paths)).toContain(
      '/v1/nodes/{node}/explain',
    );
  });

  it("answers each role what it may have: 401 without a token, 403 beyond the role, an executor's token its own node only", async () => {
    const revision = await revisionOfA();
    const routes: [method: string, path: string, allowed: readonly string[]][] = [
      ['GET', '/v1/nodes', ['reader', 'admin']],
      ['GET', '/v1/nodes/node-a/state', ['reader', 'admin', 'node-a']],
      ['GET', '/v1/nodes/node-b/state', ['reader', 'admin']],
      ['GET', `/v1/nodes/node-a/diff?from=1&to=${revision}`, ['reader', 'admin']],
      ['GET', '/v1/nodes/node-a/explain?route=10.244.2.0/24', ['reader', 'admin']],
      ['GET', '/v1/plan', ['reader', 'admin']],
      ['GET', '/v1/plan/snapshot?node=node-a', ['reader', 'admin', 'node-a']],
      ['GET', '/v1/plan/snapshot?node=node-b', ['reader', 'admin']],
      ['GET', '/v1/audit', ['reader', 'admin']],
      ['POST', '/v1/admin/projections/rebuild', ['admin']],
    ];
    const callers: Record<string, string | null> = {
      none: null,
      unknown: 'unknown-token-0123456789abcdef',
      reader: READER_TOKEN,
      admin: ADMIN_TOKEN,
      'node-a': NODE_A_TOKEN,
    };
    const answered: string[] = [];
    const expected: string[] = [];
    for (const [method, path, allowed] of routes) {
      for (const [caller, token] of Object.entries(callers)) {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: token ? { authorization: `Bearer ${token}` } : {},
        });
        await res.arrayBuffer();
        const outcome = res.status === 401 || res.status === 403 ? String(res.status) : 'answered';
        answered.push(`${caller} ${method} ${path}: ${outcome}`);
        const want =
          token === null || caller === 'unknown' ? '401' : allowed.includes(caller) ? 'answered' : '403';
        expected.push(`${caller} ${method} ${path}: ${want}`);
      }
    }
    expect(answered).toEqual(expected);
  });

  it('serves TLS with the certificate from files; the executor trusts the CA it is given, nothing else', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nl-api-tls-'));
    const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    openssl(
      ...[
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '1',
      ],
      ...['-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=netledger-test-ca'],
    );
    openssl(
      ...['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
      ...['-keyout', 'tls.key', '-out', 'tls.csr', '-subj', '/CN=netledger-api'],
    );
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName = IP:127.0.0.1\nextendedKeyUsage = serverAuth\n');
    openssl(
      ...['x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial'],
      ...['-days', '1', '-extfile', 'san.ext', '-out', 'tls.crt'],
    );
    const env = {
      ...pipeline.env,
      API_STATUS_GROUP: `${pipeline.env.API_STATUS_GROUP}-tls`,
      HTTP_TLS_CERT_FILE: join(dir, 'tls.crt'),
      HTTP_TLS_KEY_FILE: join(dir, 'tls.key'),
    };
    const secure = await runService('api', 0, () => ApiModule.forRoot(env), env);
    try {
      const url = `https://127.0.0.1:${secure.config.httpPort}`;
      const source = (ca?: Buffer) =>
        new ApiPlanSource({ url, token: NODE_A_TOKEN, node: 'node-a', ca, maxBytes: MAX_CHANGE_BYTES });
      const snapshot = await source(readFileSync(join(dir, 'ca.crt'))).latest();
      expect(snapshot?.change.manifests.set.map((m) => m.node)).toEqual(['node-a']);
      // Without the CA (or with another) the certificate is not trusted, and nothing is read.
      await expect(source().latest()).rejects.toThrow(/certificate/);
      await expect(fetch(`http://127.0.0.1:${secure.config.httpPort}/v1/plan`)).rejects.toThrow();
    } finally {
      await secure.stop();
    }
  });

  it('lists nodes with desired and applied revision, lag and health', async () => {
    const before = (await get('/v1/nodes')).body.nodes as {
      name: string;
      health: string;
      appliedRevision: number | null;
    }[];
    expect(before.map((n) => [n.name, n.health, n.appliedRevision])).toEqual([
      ['node-a', 'unknown', null],
      ['node-b', 'unknown', null],
    ]);
    const producer = pipeline.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: pipeline.topics.nodeStatus,
      messages: [
        { key: 'node-a', value: JSON.stringify({ node: 'node-a', appliedRevision: 1, lastError: null }) },
        {
          key: 'node-b',
          value: JSON.stringify({ node: 'node-b', appliedRevision: 2, lastError: 'iptables-restore failed' }),
        },
        { key: 'bogus', value: '{"not": "a status"}' },
      ],
    });
    await producer.disconnect();
    await eventually(
      async () =>
        ((await get('/v1/nodes')).body.nodes as { appliedRevision: number | null }[]).every(
          (n) => n.appliedRevision !== null,
        ),
      'executor status',
    );
    const nodes = (await get('/v1/nodes')).body.nodes as {
      name: string;
      desiredRevision: number;
      appliedRevision: number;
      lag: number;
      health: string;
    }[];
    const a = nodes.find((n) => n.name === 'node-a')!;
    expect(a).toMatchObject({
      appliedRevision: 1,
      lag: a.desiredRevision - 1,
      health: a.desiredRevision > 1 ? 'lagging' : 'ok',
    });
    expect(nodes.find((n) => n.name === 'node-b')!.health).toBe('error');
  });

  it("serves a node's desired state now, as JSON, iptables-save and iptables-restore text, and iproute2 lines", async () => {
    const json = (await get('/v1/nodes/node-a/state')).body as unknown as {
      revision: number;
      state: { chains: { chain: string; rules: string[] }[]; routes: unknown[] };
    };
    expect(json.revision).toBeGreaterThan(1);
    expect(
      json.state.chains.some((c) => c.rules.some((r) => r.includes('default/web:http cluster IP'))),
    ).toBe(true);
    const restore = (await get('/v1/nodes/node-a/state?format=iptables-restore')).body;
    expect(restore).toMatch(/^\*filter\n/);
    expect(restore).toContain(
      '-A KUBE-SERVICES -m comment --comment "default/web:http cluster IP" -m tcp -p tcp -d 10.96.0.10 --dport 80 -j KUBE-SVC-',
    );
    // As iptables-save will show it on the node, with the jumps that lead into Netledger's chains.
    const saved = (await get('/v1/nodes/node-a/state?format=iptables')).body;
    expect(saved).toContain(
      '-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-',
    );
    expect(saved).toContain(
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n',
    );
    expect((await get('/v1/nodes/node-a/state?format=iproute2')).body).toContain(
      'route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink',
    );
  });

  it('gives an executor its plan to start from: shared tables and its own manifest, no other node’s', async () => {
    const served = (await get('/v1/nodes/node-a/state')).body as unknown as {
      revision: number;
      state: unknown;
    };
    const snapshot = (await snapshotSource('node-a', READER_TOKEN).latest())!;
    expect(snapshot.change.revision).toBe(served.revision);
    expect(snapshot.change.manifests.set.map((m) => m.node)).toEqual(['node-a']);
    const book = new PlanBook({ revision: snapshot.change.revision - 1, only: 'node-a' });
    book.apply(snapshot.change, (d) => snapshot.fragments.get(d));
    expect(encodeNodeState(nodeStateOf(book.planOf('node-a')!))).toEqual(served.state);
    // A node the plan does not know gets the shared part only.
    const unknown = (await snapshotSource('node-z', READER_TOKEN).latest())!;
    expect(unknown.change.manifests.set).toEqual([]);
    await expect(snapshotSource('node-a', 'not-a-token').latest()).rejects.toThrow(/answered 401/);
    const summary = (await get('/v1/plan')).body as unknown as {
      revision: number;
      nodes: number;
      tables: number;
    };
    expect(summary).toMatchObject({ revision: served.revision, nodes: 2, tables: 1 });
  });

  it('travels in time: the state at a revision, and as it stood at a time, equal what was current then', async () => {
    const then = times[0]!;
    const r1 = (await get(`/v1/nodes/node-a/state?revision=${then.revision}`)).body as unknown as {
      revision: number;
      state: { chains: { rules: string[] }[] };
    };
    expect(r1.revision).toBe(then.revision);
    expect(r1.state.chains.some((c) => c.rules.some((r) => r.includes('default/web')))).toBe(false);
    const atTime = (await get(`/v1/nodes/node-a/state?at=${encodeURIComponent(then.at)}`))
      .body as unknown as { revision: number; state: unknown };
    expect(atTime).toEqual(r1);
    const now = (await get('/v1/nodes/node-a/state')).body as unknown as { revision: number; state: unknown };
    const atLater = (await get(`/v1/nodes/node-a/state?at=${encodeURIComponent(times[1]!.at)}`))
      .body as unknown as { revision: number; state: unknown };
    expect(atLater.state).toEqual(now.state);
  });

  it('gives the diff between two revisions, as data and as host operations', async () => {
    const now = ((await get('/v1/nodes/node-a/state')).body as unknown as { revision: number }).revision;
    const diff = (await get(`/v1/nodes/node-a/diff?from=1&to=${now}`)).body as unknown as {
      diff: { chains: { chain: string }[] };
    };
    expect(diff.diff.chains.some((c) => c.chain.startsWith('KUBE-SVC-'))).toBe(true);
    const host = (await get(`/v1/nodes/node-a/diff?from=1&to=${now}&format=host`)).body;
    expect(host).toContain('*nat\n');
  });

  it('explains a rule, a route and an FDB entry by the cluster events that made them', async () => {
    const text = (await get('/v1/nodes/node-a/state?format=iptables')).body;
    const svc = /-j (KUBE-SVC-\w+)/.exec(text)![1]!;
    const explained = (await get(`/v1/nodes/node-a/explain?table=nat&chain=${svc}`)).body as unknown as {
      present: boolean;
      changes: {
        change: string;
        causes: { type: string; object: { kind: string; name: string }; resourceVersion: string }[];
      }[];
    };
    expect(explained.present).toBe(true);
    const objects = explained.changes.flatMap((c) =>
      c.causes.map((x) => `${x.object.kind}/${x.object.name}`),
    );
    // The revision that added the chain was caused by the web Service or its slice, whichever came
    // last (the other may have been folded in a batch of its own, changing nothing yet): never anything else.
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) expect(['Service/web', 'EndpointSlice/web-1']).toContain(o);
    expect(explained.changes[0]!.change).toBe('added');
    expect(explained.changes[0]!.causes.every((c) => typeof c.resourceVersion === 'string')).toBe(true);
    const route = (await get('/v1/nodes/node-a/explain?route=10.244.2.0%2F24')).body as unknown as {
      changes: { causes: { object: { kind: string; name: string } }[] }[];
    };
    expect(route.changes[0]!.causes.map((c) => `${c.object.kind}/${c.object.name}`)).toContain('Node/node-b');
  });

  it('answers audit queries, rejected inputs included, by object, node, type and time', async () => {
    const rejected = (await get('/v1/audit?type=KubeObjectRejected')).body as unknown as {
      events: { subject: { kind: string; name: string }; data: { reason: string } }[];
    };
    expect(rejected.events).toHaveLength(1);
    expect(rejected.events[0]!.subject).toMatchObject({ kind: 'Service', name: 'broken' });
    expect(rejected.events[0]!.data.reason).toContain('is not an IP address');
    const web = (await get('/v1/audit?kind=Service&namespace=default&name=web')).body as unknown as {
      events: { type: string }[];
    };
    expect(web.events.map((e) => e.type)).toEqual(['KubeObjectApplied']);
    const changes = (await get('/v1/audit?type=PlanChanged')).body as unknown as { events: unknown[] };
    expect(changes.events.length).toBeGreaterThan(1);
    const nodeA = (await get('/v1/audit?node=node-a')).body as unknown as {
      events: { subject: { kind: string; name: string } }[];
    };
    expect(nodeA.events.map((e) => `${e.subject.kind}/${e.subject.name}`)).toEqual(['Node/node-a']);
    const none = (await get(`/v1/audit?to=${encodeURIComponent('2000-01-01T00:00:00Z')}`))
      .body as unknown as { events: unknown[] };
    expect(none.events).toEqual([]);
  });

  it('pages with a cursor in position order, neither skipping nor repeating while events are appended', async () => {
    const seen: number[] = [];
    let cursor: string | null = null;
    let i = 0;
    do {
      const page = (await get(`/v1/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`)).body as unknown as {
        events: { position: number }[];
        nextCursor: string | null;
      };
      seen.push(...page.events.map((e) => e.position));
      cursor = page.nextCursor;
      if (i++ < 4)
        pipeline.apiserver.apply(
          rawService('default', `more-${i}`, { clusterIP: `10.96.1.${i}` }) as Record<string, unknown>,
        );
      if (!cursor) {
        await settle();
        const more = (
          await get(`/v1/audit?limit=3&cursor=${Buffer.from(`p:${seen.at(-1)}`).toString('base64url')}`)
        ).body as unknown as { nextCursor: string | null; events: unknown[] };
        if (more.events.length > 0) cursor = Buffer.from(`p:${seen.at(-1)}`).toString('base64url');
      }
    } while (cursor);
    const all = (await get('/v1/audit?limit=1000')).body as unknown as { events: { position: number }[] };
    expect(seen).toEqual(all.events.map((e) => e.position));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('rebuilds its projections from position 0 into the same tables (admin only)', async () => {
    const dump = async () => {
      const { Client } = await import('pg');
      const c = new Client({ connectionString: pipeline.db.url });
      await c.connect();
      const out = { audit: (await c.query('SELECT * FROM api_audit ORDER BY position')).rows };
      await c.end();
      return out;
    };
    await api.app.get(ProjectorService).catchUp();
    const before = await dump();
    expect(
      (
        await fetch(`${base}/v1/admin/projections/rebuild`, {
          method: 'POST',
          headers: { authorization: `Bearer ${READER_TOKEN}` },
        })
      ).status,
    ).toBe(403);
    const res = await fetch(`${base}/v1/admin/projections/rebuild`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.status).toBe(201);
    expect(await dump()).toEqual(before);
  });

  it('answers the command line: nodes, state, diff, explain, audit', async () => {
    const flags = ['--api', base, '--token', READER_TOKEN];
    const nodes = await runApi(['nodes', ...flags])!;
    expect(nodes.split('\n')[0]).toMatch(/^NODE\s+DESIRED\s+APPLIED\s+LAG\s+HEALTH\s+ERROR$/);
    expect(nodes).toMatch(/\nnode-a\s+\d+\s+1\s+\d+\s+(ok|lagging)/);
    expect(await runApi(['state', 'node-a', ...flags])!).toMatch(/^\*filter\n/);
    expect(
      await runApi(['diff', 'node-a', '--from-revision', '1', '--to-revision', '2', ...flags])!,
    ).toBeTypeOf('string');
    expect(
      JSON.parse(await runApi(['explain', 'node-a', '--route', '10.244.2.0/24', ...flags])!),
    ).toHaveProperty('changes');
    expect(
      JSON.parse(await runApi(['audit', '--type', 'KubeObjectRejected', ...flags])!).events,
    ).toHaveLength(1);
    await expect(runApi(['state', 'node-z', ...flags])!).rejects.toThrow('404: no node "node-z"');
    await expect(runApi(['nodes', '--api', base, '--token', 'wrong-token'])!).rejects.toThrow('401');
  });

  it('says what is wrong: 404 for an unknown node, 400 for malformed parameters', async () => {
    expect((await get('/v1/nodes/node-z/state')).status).toBe(404);
    expect((await get('/v1/nodes/node-z/state')).body).toEqual({
      error: 'NODE.NOT_FOUND',
      message: 'no node "node-z"',
    });
    expect((await get('/v1/nodes/node-a/state?revision=-1')).status).toBe(400);
    expect((await get('/v1/nodes/node-a/state?revision=999')).body.error).toBe('INPUT.NO_SUCH_REVISION');
    expect((await get('/v1/nodes/node-a/state?at=yesterday')).status).toBe(400);
    expect((await get('/v1/nodes/node-a/state?bogus=1')).status).toBe(400);
    expect((await get('/v1/nodes/Bad_Name/state')).status).toBe(400);
    expect((await get('/v1/audit?limit=5000')).status).toBe(400);
    expect((await get('/v1/audit?cursor=xyz')).body.error).toBe('INPUT.INVALID_CURSOR');
    expect((await get('/v1/nodes/node-a/explain?chain=KUBE-SERVICES')).status).toBe(400);
  });

  it('reads the plan from the ledger again when it misses a change, rather than stop at it', async () => {
    await api.app.get(ProjectorService).catchUp();
    const view = api.app.get(PlanViewService);
    const before = (await get('/v1/nodes/node-a/state')).body;
    const held = await view.book();
    // As if the projector had been handed a change from beyond a gap.
    const beyond = {
      type: PLAN_CHANGED,
      data: { change: { revision: held.revision + 3 }, causes: [] },
    } as unknown as RecordedEvent;
    await view.follow([beyond]);
    pipeline.apiserver.apply(
      rawService('default', 'late', {
        clusterIP: '10.96.0.77',
        ports: [{ name: 'http', port: 80 }],
      }) as Record<string, unknown>,
    );
    await settle();
    const healed = (await get('/v1/nodes/node-a/state')).body;
    expect(healed.revision).toBeGreaterThan(before.revision as number);
    const rules = [...decodeNodeState(healed.state).chains.values()].flatMap((ch) => ch.rules);
    expect(rules.some((r) => r.includes('default/late:http has no endpoints'))).toBe(true);
    const fresh = await view.ledger.book();
    expect(encodeNodeState(nodeStateOf(fresh.planOf('node-a')!))).toEqual(healed.state);
  });

  it('after retention folded history: 410 before the horizon, explain from it, the state unchanged', async () => {
    const text = (await get('/v1/nodes/node-a/state?format=iptables')).body;
    const svc = /-j (KUBE-SVC-\w+)/.exec(text)![1]!;
    const before = (await get('/v1/nodes/node-a/state')).body;
    const ledger = api.app.get(PlanViewService).ledger;
    const head = await ledger.head();
    const run = await planner.app
      .get(LedgerRetention)
      .run(new Date((await ledger.recordedAt(head))!.getTime() + 1));
    expect(run.revision).toBe(head);

    expect((await get('/v1/nodes/node-a/state')).body).toEqual(before);
    expect((await get(`/v1/nodes/node-a/state?revision=${head}`)).body.state).toEqual(before.state);
    const older = await get(`/v1/nodes/node-a/state?revision=${times[0]!.revision}`);
    expect(older.status).toBe(410);
    expect(older.body.error).toBe('PLAN.BEYOND_RETENTION');
    expect((await get(`/v1/nodes/node-a/state?at=${encodeURIComponent(times[0]!.at)}`)).status).toBe(410);
    // The chain was there before the horizon: explain says so, from the horizon on.
    const explained = (await get(`/v1/nodes/node-a/explain?table=nat&chain=${svc}`)).body as unknown as {
      present: boolean;
      historyFrom: number;
      changes: { revision: number; change: string }[];
    };
    expect(explained.present).toBe(true);
    expect(explained.historyFrom).toBe(head);
    expect(explained.changes).toEqual([
      expect.objectContaining({ revision: head, change: 'present at the ledger horizon' }),
    ]);
  });
});
