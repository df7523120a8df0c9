import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { appEntry } from './app-entry';

/** One of the built apps as a real process (as it ships, see appEntry), for kill and restart tests. */
export class AppProcess {
  private child: ChildProcess | undefined;
  output = '';

  constructor(
    readonly app: string,
    private readonly env: Record<string, string>,
  ) {}

  async start(): Promise<void> {
    // A restarted process must say it started again: earlier output does not count.
    const from = this.output.length;
    this.child = spawn(process.execPath, [appEntry(this.app)], {
      env: { ...process.env, ...this.env, HTTP_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // NETLEDGER_TEST_LOG_DIR keeps every line, for a failure whose tail is not enough.
    const logDir = process.env.NETLEDGER_TEST_LOG_DIR;
    const keep = (d: Buffer) => {
      this.output += d.toString();
      if (logDir) appendFileSync(join(logDir, `${this.app}-${this.env.NODE_NAME ?? 'main'}.log`), d);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    const deadline = Date.now() + 30_000;
    while (!/started; health on/.test(this.output.slice(from))) {
      if (this.child.exitCode !== null) throw new Error(`${this.app} exited: ${this.output.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`${this.app} did not start: ${this.output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The HTTP port it listens on (it is started on a free one). */
  get port(): number {
    const ports = [...this.output.matchAll(/health on http:\/\/[^:]+:(\d+)\//g)];
    if (ports.length === 0) throw new Error(`${this.app} has not said its port: ${this.output.slice(-2000)}`);
    return Number(ports.at(-1)![1]);
  }

  /** Its process id (while it runs). */
  get pid(): number {
    if (!this.child?.pid || this.child.exitCode !== null) throw new Error(`${this.app} is not running`);
    return this.child.pid;
  }

  /** SIGKILL: no shutdown hook runs, whatever was in flight is lost. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}
