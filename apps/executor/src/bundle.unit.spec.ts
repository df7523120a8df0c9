import { join } from 'node:path';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const repo = join(__dirname, '..', '..', '..');

describe('the executor as it ships', () => {
  it('bundles into one file holding only what applying needs: no NestJS, no PostgreSQL client, no HTTP framework', async () => {
    // The same options as package.json's bundle:executor.
    const result = await build({
      entryPoints: [join(repo, 'apps/executor/src/main.ts')],
      bundle: true,
      platform: 'node',
      target: 'node24',
      conditions: ['netledger-source'],
      write: false,
      metafile: true,
      logLevel: 'silent',
      absWorkingDir: repo,
    });
    const packages = new Set(
      Object.keys(result.metafile.inputs).flatMap((file) => {
        const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
        return m ? [m[1]!] : [];
      }),
    );
    for (const heavy of [
      '@nestjs/common',
      '@nestjs/core',
      'fastify',
      'rxjs',
      'pg',
      '@kubernetes/client-node',
    ])
      expect(packages.has(heavy), heavy).toBe(false);
    expect([...packages].sort()).toEqual(
      ['@opentelemetry/api', 'bintrees', 'ipaddr.js', 'kafkajs', 'prom-client', 'tdigest', 'zod'].sort(),
    );
    const libs = new Set(
      Object.keys(result.metafile.inputs).flatMap((f) => /^libs\/([^/]+)\//.exec(f)?.[1] ?? []),
    );
    expect([...libs].sort()).toEqual(['dataplane', 'messaging', 'model', 'planner-core', 'process']);
    expect(result.outputFiles[0]!.contents.byteLength).toBeLessThan(4 * 1024 * 1024);
  });
});
