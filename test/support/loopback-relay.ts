import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const pipeBoth = (a: Socket, b: Socket) => {
  a.pipe(b).pipe(a);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
};

/**
 * A TCP port of the root namespace's loopback (the apiserver's), served on the same port of a
 * test namespace's loopback, for a process that must run inside that namespace (kube-proxy
 * programs the namespace it runs in). The two ends meet on a unix socket, which belongs to no
 * network namespace: no address, route or rule is added anywhere.
 */
export class LoopbackRelay {
  private constructor(
    private readonly dir: string,
    private readonly server: Server,
    private readonly inside: ChildProcess,
  ) {}

  static async start(netns: string, port: number): Promise<LoopbackRelay> {
    const dir = mkdtempSync(join(tmpdir(), 'nl-relay-'));
    const socket = join(dir, 'relay.sock');
    const server = createServer((c) => pipeBoth(c, createConnection(port, '127.0.0.1')));
    server.listen(socket);
    await once(server, 'listening');
    const script = `const net = require('node:net');
      net.createServer((c) => { const u = net.connect(process.argv[1]); c.pipe(u).pipe(c);
        c.on('error', () => u.destroy()); u.on('error', () => c.destroy()); })
        .listen(Number(process.argv[2]), '127.0.0.1', () => console.log('listening'));`;
    const inside = spawn(
      'ip',
      ['netns', 'exec', netns, process.execPath, '-e', script, socket, String(port)],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    const [data] = (await once(inside.stdout!, 'data')) as [Buffer];
    if (!data.toString().includes('listening')) throw new Error(`relay in ${netns}: ${data.toString()}`);
    return new LoopbackRelay(dir, server, inside);
  }

  async stop(): Promise<void> {
    this.inside.kill('SIGKILL');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
