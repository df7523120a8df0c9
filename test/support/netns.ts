import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** True when this process may create network namespaces (root). */
export const canUseNetns = process.getuid?.() === 0;

/** Runs a command in the root namespace with an argument array (never a shell string). */
export function run(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/**
 * A network namespace a test made, named with a random suffix, removed by `remove()` (call it in a
 * finally or afterAll so a failing test removes it too).
 */
export class TestNamespace {
  readonly name: string;

  constructor(prefix: string) {
    this.name = `nltest-${prefix}-${randomBytes(3).toString('hex')}`;
    run('ip', ['netns', 'add', this.name]);
    this.exec('ip', ['link', 'set', 'lo', 'up']);
  }

  /** Runs a command inside the namespace. */
  exec(cmd: string, args: string[], input?: string): string {
    return run('ip', ['netns', 'exec', this.name, cmd, ...args], input);
  }

  remove(): void {
    try {
      run('ip', ['netns', 'del', this.name]);
    } catch {
      // already gone
    }
  }
}

/**
 * Puts a pod on a node as a CNI bridge plugin would: a veth pair from the pod's eth0 to the
 * node's cni0 bridge, the pod's address (a /24 of the node's pod CIDR) and a default route via
 * the bridge's address.
 */
export function attachPod(node: TestNamespace, pod: TestNamespace, address: string, gateway: string): void {
  const hostEnd = `v-${pod.name.slice(-12)}`.slice(0, 15);
  run('ip', [
    'link',
    'add',
    'eth0',
    'netns',
    pod.name,
    'type',
    'veth',
    'peer',
    'name',
    hostEnd,
    'netns',
    node.name,
  ]);
  node.exec('ip', ['link', 'set', hostEnd, 'master', 'cni0', 'up']);
  pod.exec('ip', ['addr', 'add', `${address}/24`, 'dev', 'eth0']);
  pod.exec('ip', ['link', 'set', 'eth0', 'up']);
  pod.exec('ip', ['route', 'add', 'default', 'via', gateway]);
}

/** An HTTP server on port 8080 inside a pod's namespace that answers every request with `name`. */
export function servePodName(pod: TestNamespace, name: string): ChildProcess {
  const script = `require('http').createServer((q, s) => s.end(${JSON.stringify(name)})).listen(8080, '0.0.0.0')`;
  return spawn('ip', ['netns', 'exec', pod.name, process.execPath, '-e', script], { stdio: 'ignore' });
}

/** One answer of a probe: what came back (or FAILED) and when it was asked, ms since the epoch. */
export interface ProbeAnswer {
  readonly at: number;
  readonly body: string;
}

/**
 * From inside a namespace, a new HTTP connection to `url` every ~50 ms until stopped (each with
 * a 2 s limit); `stop()` resolves with every answer in order.
 */
export function probe(from: TestNamespace, url: string): { stop: () => Promise<ProbeAnswer[]> } {
  const answers: ProbeAnswer[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const at = Date.now();
      const body = await execFileAsync('ip', [
        'netns',
        'exec',
        from.name,
        'curl',
        '-s',
        '--max-time',
        '2',
        url,
      ]).then(
        (r) => r.stdout,
        () => 'FAILED',
      );
      answers.push({ at, body });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await done;
      return answers;
    },
  };
}
