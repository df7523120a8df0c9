import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';

const repo = join(__dirname, '..', '..');

/** One of the built apps as a real process (apps/<name>/dist/main.js), for kill and restart tests. */
export class AppProcess {
  private child: ChildProcess | undefined;
  output = '';

  constructor(
    readonly app: string,
    private readonly env: Record<string, string>,
  ) {}

  async start(): Promise<void> {
    this.child = spawn(process.execPath, [join(repo, 'apps', this.app, 'dist', 'main.js')], {
      env: { ...process.env, ...this.env, HTTP_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.output += d.toString()));
    const deadline = Date.now() + 30_000;
    while (!/started; health on/.test(this.output)) {
      if (this.child.exitCode !== null) throw new Error(`${this.app} exited: ${this.output.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`${this.app} did not start: ${this.output.slice(-2000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
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
