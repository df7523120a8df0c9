import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const repo = join(__dirname, '..', '..');
const execFileAsync = promisify(execFile);

/** A TCP port free on loopback now (the kernel's pick). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Runs one of the project's scripts with extra environment; rejects with its output on failure. */
async function script(name: string, args: string[], env: Record<string, string>, input?: string) {
  const child = execFileAsync(join(repo, 'scripts', name), args, {
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (input !== undefined) {
    child.child.stdin!.end(input);
  }
  try {
    return (await child).stdout;
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string };
    throw new Error(`scripts/${name} ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`, {
      cause: error,
    });
  }
}

/**
 * A real etcd and kube-apiserver of the test's own (scripts/kube, on free ports, state in a
 * temporary directory), with kubectl as administrator and a kubeconfig for the ingester.
 */
export class KubeControlPlane {
  readonly dir = mkdtempSync(join(tmpdir(), 'nl-kube-'));
  // The state directory from the start: a clean-up before `up` must not touch the default one.
  private readonly env: Record<string, string> = { NETLEDGER_KUBE_DIR: this.dir };

  async up(): Promise<void> {
    this.env.NETLEDGER_APISERVER_PORT = String(await freePort());
    this.env.NETLEDGER_ETCD_PORT = String(await freePort());
    this.env.NETLEDGER_ETCD_PEER_PORT = String(await freePort());
    await script('kube', ['up'], this.env);
  }

  /** The administrator's kubeconfig (a client certificate in system:masters). */
  get adminKubeconfig(): string {
    return join(this.dir, 'admin.kubeconfig');
  }

  /** The apiserver's port on the root namespace's loopback. */
  get apiserverPort(): number {
    return Number(this.env.NETLEDGER_APISERVER_PORT);
  }

  /** The directory of the binaries built from upstream's modules (kube-proxy among them). */
  async binDir(): Promise<string> {
    return (await script('kube', ['build'], this.env)).trim();
  }

  /** The ingester's kubeconfig: deploy/'s ServiceAccount and RBAC. */
  get ingesterKubeconfig(): string {
    return join(this.dir, 'ingester.kubeconfig');
  }

  kubectl(args: string[], input?: string): Promise<string> {
    return script('kube', ['kubectl', ...args], this.env, input);
  }

  stopApiserver(): Promise<string> {
    return script('kube', ['stop-apiserver'], this.env);
  }

  startApiserver(): Promise<string> {
    return script('kube', ['start-apiserver'], this.env);
  }

  /** Stops both processes and removes the state, whatever happened before. */
  async down(): Promise<void> {
    try {
      await script('kube', ['clean'], this.env);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/** A Kafka broker of the test's own (scripts/services kafka-up), so that it can be restarted. */
export class OwnKafkaBroker {
  readonly dir = mkdtempSync(join(tmpdir(), 'nl-kafka-'));
  // The run directory from the start: a clean-up before `up` must not stop the shared broker.
  // Its certificates and administrator are the main broker's, so this process's clients reach it too.
  private readonly env: Record<string, string> = {
    NETLEDGER_RUN_DIR: this.dir,
    NETLEDGER_SECRETS_DIR: process.env.NETLEDGER_SECRETS_DIR ?? join(repo, '.run', 'secrets'),
  };
  brokers = '';

  async up(): Promise<void> {
    const port = await freePort();
    this.env.NETLEDGER_KAFKA_PORT = String(port);
    this.env.NETLEDGER_KAFKA_CONTROLLER_PORT = String(await freePort());
    this.brokers = `127.0.0.1:${port}`;
    await this.start();
  }

  start(): Promise<string> {
    return script('services', ['kafka-up'], this.env);
  }

  stop(): Promise<string> {
    return script('services', ['kafka-down'], this.env);
  }

  /**
   * Freezes the broker process (SIGSTOP) for `ms`: a long GC pause or a stalled VM, as its clients
   * see it. Their requests time out, sessions expire, and it comes back with no restart.
   */
  async freeze(ms: number): Promise<void> {
    const pid = Number(readFileSync(join(this.dir, 'kafka', 'kafka.pid'), 'utf8'));
    process.kill(pid, 'SIGSTOP');
    try {
      await new Promise((r) => setTimeout(r, ms));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }

  async down(): Promise<void> {
    try {
      await this.stop();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
