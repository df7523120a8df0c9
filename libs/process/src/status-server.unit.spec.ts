import { afterEach, describe, expect, it } from 'vitest';
import { MetricsRegistry } from './metrics-registry';
import { ReadinessChecks } from './readiness';
import { StatusServer } from './status-server';

describe('StatusServer', () => {
  let server: StatusServer | undefined;
  afterEach(async () => server?.close());

  it('answers liveness, readiness with each reason, and metrics; nothing else', async () => {
    const readiness = new ReadinessChecks();
    let why: string | undefined = 'no desired state: plan revision 3 does not hold node-a';
    readiness.register({
      name: 'executor',
      check: async () => {
        if (why) throw new Error(why);
      },
    });
    const metrics = new MetricsRegistry();
    metrics.counter({ name: 'netledger_test_total', help: 'A test counter.' }).inc(3);
    server = new StatusServer(readiness, metrics);
    const port = await server.listen(0, '127.0.0.1');
    const get = (path: string, method = 'GET') => fetch(`http://127.0.0.1:${port}${path}`, { method });

    expect(await (await get('/healthz')).json()).toEqual({ status: 'ok' });
    const notReady = await get('/readyz');
    expect(notReady.status).toBe(503);
    expect(await notReady.json()).toEqual({ status: 'not ready', checks: { executor: why } });
    why = undefined;
    const ready = await get('/readyz?verbose');
    expect([ready.status, await ready.json()]).toEqual([
      200,
      { status: 'ready', checks: { executor: 'ok' } },
    ]);
    const scraped = await get('/metrics');
    expect(scraped.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await scraped.text()).toMatch(/^netledger_test_total 3$/m);
    expect((await get('/')).status).toBe(404);
    expect((await get('/healthz', 'POST')).status).toBe(405);
  });
});
