import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { DEFAULT_KUBE_PROXY_RELEASE, type KubeProxyRelease } from '@netledger/model';

/** What kube-proxy's first sync left: its iptables-restore input, and every table after it. */
export interface ReferenceAnswer {
  restore: string;
  tables: string;
}

const repo = resolve(__dirname, '../..');

/** The k8s.io/kubernetes version the reference of each release is built from (served ones). */
export const REFERENCE_VERSIONS: Readonly<Record<KubeProxyRelease, string>> = {
  'v1.34': 'v1.34.4',
  'v1.35': 'v1.35.4',
  'v1.36': 'v1.36.3',
  'v1.37': 'v1.37.2',
};

/** Builds (once, cached by scripts/kube) kube-proxy's iptables proxier as a process; its path. */
export function referenceBinary(release: KubeProxyRelease = DEFAULT_KUBE_PROXY_RELEASE): string {
  return execFileSync(resolve(repo, 'scripts/kube'), ['build-reference', REFERENCE_VERSIONS[release]], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** kube-proxy's proxier, one case at a time over a pipe (test/reference/kube-proxy/main.go). */
export class KubeProxyReference {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly waiting: ((line: string) => void)[] = [];
  private stderr = '';

  constructor(binary: string) {
    this.child = spawn(binary, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
    createInterface({ input: this.child.stdout }).on('line', (line) => this.waiting.shift()?.(line));
    this.child.on('exit', (code) => {
      for (const w of this.waiting.splice(0))
        w(JSON.stringify({ error: `reference exited ${code}: ${this.stderr}` }));
    });
  }

  async run(input: unknown): Promise<ReferenceAnswer> {
    const line = await new Promise<string>((done) => {
      this.waiting.push(done);
      this.child.stdin.write(`${JSON.stringify(input)}\n`);
    });
    const answer = JSON.parse(line) as Partial<ReferenceAnswer> & { error?: string };
    if (answer.error) throw new Error(`kube-proxy reference: ${answer.error}`);
    return { restore: answer.restore ?? '', tables: answer.tables ?? '' };
  }

  close(): void {
    this.child.stdin.end();
  }
}
