import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { MetricsRegistry } from './metrics-registry';
import type { ReadinessChecks } from './readiness';

/**
 * Liveness (`/healthz`: the process runs), readiness (`/readyz`: every check answers, else 503
 * with each one's reason) and Prometheus metrics (`/metrics`) over plain node:http, for processes
 * that serve nothing else. GET and HEAD only; everything else is 404 or 405.
 */
export class StatusServer {
  private readonly server: Server;

  constructor(readiness: ReadinessChecks, metrics: MetricsRegistry) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const send = (status: number, type: string, body: string) => {
        res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      const json = (status: number, body: unknown) =>
        send(status, 'application/json; charset=utf-8', JSON.stringify(body));
      if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics')
        return json(404, { error: 'not found' });
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' });
      if (path === '/healthz') return json(200, { status: 'ok' });
      const answer =
        path === '/readyz'
          ? readiness
              .run()
              .then((r) =>
                json(r.ready ? 200 : 503, { status: r.ready ? 'ready' : 'not ready', checks: r.checks }),
              )
          : metrics.registry
              .metrics()
              .then((text) => send(200, 'text/plain; version=0.0.4; charset=utf-8', text));
      answer.catch((error: unknown) => json(500, { error: String(error) }));
    });
  }

  /** Listens; resolves with the port (0 picks a free one). */
  async listen(port: number, host: string): Promise<number> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
