import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { kubeConfigFor } from '@netledger/kube';
import { FakeApiServer } from '../support/fake-apiserver';
import { createTestDatabase, uniqueSuffix } from '../support/services';
import { appEntry } from '../support/app-entry';
import { testPlanKeys } from '../support/plan-keys';
import { kafkaEnv } from '../support/kafka-env';

/** Waits for /readyz to answer as `until` wants (by default: ready); returns its body. */
async function waitReady(
  url: string,
  child: ChildProcess,
  until: (res: Response, body: { checks: Record<string, string> }) => boolean = (res) => res.ok,
  timeoutMs = 30_000,
): Promise<{ checks: Record<string, string> }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`exited early with ${child.exitCode}`);
    try {
      const res = await fetch(url);
      const body = (await res.json()) as { checks: Record<string, string> };
      if (until(res, body)) return body;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready within ${timeoutMs} ms`);
}

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let apiserver: FakeApiServer;
let kubeconfig: string;
const prefix = `test-${uniqueSuffix()}`;
const keys = testPlanKeys();
beforeAll(async () => {
  db = await createTestDatabase();
  apiserver = new FakeApiServer({ token: 'apps' });
  const url = await apiserver.start();
  kubeconfig = `${mkdtempSync(`${tmpdir()}/nl-apps-`)}/kubeconfig`;
  writeFileSync(kubeconfig, kubeConfigFor(url, 'apps').exportConfig());
});
afterAll(async () => {
  await apiserver?.stop();
  await db?.drop();
});

/** A built app as its own process, with `env` only; `output` is what it printed so far. */
function spawnApp(app: string, env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [appEntry(app)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  return { child, output: () => output };
}

/**
 * Each built app starts, reports ready with its dependencies, and exits 0 on SIGTERM. The
 * executor's node is in no plan here: it must stay not ready and say so (docs/executor.md).
 */
describe.each(['ingester', 'planner', 'executor', 'api'])('app %s', (app) => {
  it('starts, is ready, and exits cleanly on SIGTERM', async () => {
    const port = 18_100 + ['ingester', 'planner', 'executor', 'api'].indexOf(app);
    const { child, output: printed } = spawnApp(app, {
      ...process.env,
      DATABASE_URL: db.url,
      KAFKA_BROKERS: inject('kafkaBrokers'),
      KUBECONFIG: kubeconfig,
      NETLEDGER_TOPIC_PREFIX: prefix,
      NODE_NAME: 'node-apps',
      API_TOKENS: 'apps-test-token-0123456789:reader',
      EXECUTOR_BACKEND: 'recording',
      STATE_FILE: `${tmpdir()}/nl-apps-${prefix}.json`,
      HTTP_PORT: String(port),
      LOG_FORMAT: 'json',
      ...keys,
    });
    try {
      const url = `http://127.0.0.1:${port}/readyz`;
      if (app === 'executor') {
        const readiness = await waitReady(url, child, (res, body) =>
          /no desired state/.test(body.checks.executor ?? ''),
        );
        expect(readiness.checks.executor).toMatch(/does not hold node node-apps/);
        expect((await fetch(`http://127.0.0.1:${port}/healthz`)).ok).toBe(true);
      } else {
        const readiness = await waitReady(url, child);
        expect(Object.values(readiness.checks).every((c) => c === 'ok')).toBe(true);
      }
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('process_cpu_user_seconds_total');
    } finally {
      child.kill('SIGTERM');
    }
    const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
    const output = printed();
    expect({ code, signal }, output).toEqual({ code: 0, signal: null });
    const lines = output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { message: string; context?: string });
    expect(lines.some((l) => l.message.startsWith('started'))).toBe(true);
    expect(lines.at(-1)?.message).toBe('stopped');
  });
});

/** Each guard that is on by default stops a start that would run without it, saying what to set. */
describe('apps refuse to start without what keeps the plan trusted', () => {
  const start = async (app: string, env: Record<string, string>) => {
    // Not this process's environment: it holds the keys whose absence is tested.
    const { child, output } = spawnApp(app, {
      PATH: process.env.PATH!,
      DATABASE_URL: db.url,
      KAFKA_BROKERS: inject('kafkaBrokers'),
      ...kafkaEnv(),
      KUBECONFIG: kubeconfig,
      NETLEDGER_TOPIC_PREFIX: prefix,
      NODE_NAME: 'node-apps',
      HTTP_PORT: '0',
      LOG_FORMAT: 'json',
      ...env,
    });
    const [code] = (await once(child, 'exit')) as [number | null];
    return { code, output: output() };
  };

  it('the api with a placeholder token, the planner without its signing key, the executor without the public keys', async () => {
    const placeholder = await start('api', { API_TOKENS: 'CHANGE-ME-EXECUTOR-0123456789:reader' });
    expect(placeholder.code).toBe(1);
    expect(placeholder.output).toMatch(/API_TOKENS: entry 1: the token is a placeholder/);
    expect(placeholder.output).not.toContain('CHANGE-ME-EXECUTOR-0123456789');
    const planner = await start('planner', {});
    expect([planner.code, /PLAN_SIGNING_KEY_FILE is not set/.test(planner.output)]).toEqual([1, true]);
    const executor = await start('executor', { STATE_FILE: `${tmpdir()}/nl-apps-refused-${prefix}.json` });
    expect([executor.code, /PLAN_VERIFY_KEYS is not set/.test(executor.output)]).toEqual([1, true]);
  });
});
