import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = join(__dirname, '..', '..');
const bin = join(repo, 'bin', 'netledger');
const fixture = (name: string) => join(repo, 'test', 'fixtures', name);

/** The command as a user runs it from the repository root after the README's set-up. */
describe('bin/netledger', () => {
  it('plans a node from a cluster file', () => {
    const out = execFileSync(bin, ['plan', '--cluster', fixture('cluster.yaml'), '--node', 'node-a'], {
      cwd: repo,
      encoding: 'utf8',
    });
    expect(out.split('\n')[0]).toBe('*filter');
    expect(out).toContain(
      '-A KUBE-NODEPORTS -p tcp -m comment --comment "default/nginx" -m tcp --dport 30935 -j KUBE-EXT-2CMXP7HKUVJN7L6M',
    );
    expect(out).toContain(
      '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES\n',
    );
  });

  it('exits non-zero with a message naming the object and field for invalid input', () => {
    const r = spawnSync(bin, ['plan', '--cluster', fixture('invalid-cluster.yaml'), '--node', 'node-a'], {
      cwd: repo,
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('Service default/web: spec.ports[0].protocol');
  });

  it('asks the API for nodes, and says plainly when the API cannot be reached', () => {
    const r = spawnSync(bin, ['nodes', '--api', 'http://127.0.0.1:9', '--token', 't'], {
      cwd: repo,
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('cannot reach the API at http://127.0.0.1:9');
  });
});
