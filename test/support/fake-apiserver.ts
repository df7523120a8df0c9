import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/*
 * A stand-in for kube-apiserver that speaks the list/watch protocol the way the real one does,
 * for the resources Netledger reads: paged lists with a consistent resourceVersion, watches as
 * chunked JSON lines from a resourceVersion, bookmarks, 410 Gone once history is compacted,
 * connections it can drop or refuse. Objects are stored as given (plus metadata.resourceVersion).
 */

interface Resource {
  readonly path: string;
  readonly kind: string;
  readonly apiVersion: string;
  readonly namespaced: boolean;
}

const RESOURCES: readonly Resource[] = [
  { path: '/api/v1/nodes', kind: 'Node', apiVersion: 'v1', namespaced: false },
  { path: '/api/v1/services', kind: 'Service', apiVersion: 'v1', namespaced: true },
  {
    path: '/apis/discovery.k8s.io/v1/endpointslices',
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    namespaced: true,
  },
];

type WatchType = 'ADDED' | 'MODIFIED' | 'DELETED';
interface HistoryEntry {
  rv: number;
  kind: string;
  type: WatchType;
  object: Record<string, unknown>;
}
interface Watcher {
  kind: string;
  res: ServerResponse;
}

const keyOf = (o: Record<string, unknown>) => {
  const m = o.metadata as { namespace?: string; name: string };
  return `${m.namespace ?? ''}/${m.name}`;
};

export class FakeApiServer {
  private server: Server | undefined;
  private rv = 100;
  private compactedBefore = 0;
  private readonly objects = new Map<string, Map<string, Record<string, unknown>>>(
    RESOURCES.map((r) => [r.kind, new Map()]),
  );
  private readonly history: HistoryEntry[] = [];
  private readonly watchers = new Set<Watcher>();
  private bookmarkTimer: NodeJS.Timeout | undefined;
  private refusing = false;
  /** Requests seen, for assertions ("GET /api/v1/nodes?watch=true&resourceVersion=105"). */
  readonly requests: string[] = [];

  constructor(private readonly options: { token?: string; bookmarkMs?: number } = {}) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.bookmarkTimer = setInterval(() => this.sendBookmarks(), this.options.bookmarkMs ?? 200);
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    clearInterval(this.bookmarkTimer);
    this.dropWatches();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  /** Every object stored now, as the apiserver would serve it. */
  allObjects(): Record<string, unknown>[] {
    return [...this.objects.values()].flatMap((m) => [...m.values()]);
  }

  get resourceVersion(): number {
    return this.rv;
  }

  /** Creates or replaces an object; returns its new resourceVersion. */
  apply(object: Record<string, unknown>): number {
    const kind = object.kind as string;
    const store = this.objects.get(kind)!;
    const key = keyOf(object);
    const type: WatchType = store.has(key) ? 'MODIFIED' : 'ADDED';
    const stored = {
      ...object,
      metadata: { ...(object.metadata as object), resourceVersion: String(++this.rv) },
    };
    store.set(key, stored);
    this.record({ rv: this.rv, kind, type, object: stored });
    return this.rv;
  }

  delete(kind: string, namespace: string | undefined, name: string): void {
    const store = this.objects.get(kind)!;
    const key = `${namespace ?? ''}/${name}`;
    const old = store.get(key);
    if (!old) return;
    store.delete(key);
    const gone = { ...old, metadata: { ...(old.metadata as object), resourceVersion: String(++this.rv) } };
    this.record({ rv: this.rv, kind, type: 'DELETED', object: gone });
  }

  /** Forgets all history up to now: watches from older resourceVersions get 410 Gone. */
  compact(): void {
    this.compactedBefore = this.rv + 1;
    this.history.length = 0;
  }

  /** Ends every open watch connection (as a restarting apiserver or a proxy would). */
  dropWatches(): void {
    for (const w of this.watchers) w.res.destroy();
    this.watchers.clear();
  }

  /** While true, every request is refused with 503 (apiserver down behind a load balancer). */
  refuse(on: boolean): void {
    this.refusing = on;
    if (on) this.dropWatches();
  }

  private record(entry: HistoryEntry): void {
    this.history.push(entry);
    for (const w of this.watchers) if (w.kind === entry.kind) this.send(w.res, entry.type, entry.object);
  }

  private sendBookmarks(): void {
    for (const w of this.watchers) {
      const r = RESOURCES.find((x) => x.kind === w.kind)!;
      this.send(w.res, 'BOOKMARK', {
        kind: r.kind,
        apiVersion: r.apiVersion,
        metadata: { resourceVersion: String(this.rv) },
      });
    }
  }

  private send(res: ServerResponse, type: string, object: unknown): void {
    res.write(`${JSON.stringify({ type, object })}\n`);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push(`${req.method} ${req.url}`);
    const url = new URL(req.url ?? '/', 'http://x');
    const status = (code: number, reason: string, message: string) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message }));
    };
    if (this.refusing) return status(503, 'ServiceUnavailable', 'apiserver is shutting down');
    if (this.options.token && req.headers.authorization !== `Bearer ${this.options.token}`)
      return status(401, 'Unauthorized', 'Unauthorized');
    const resource = RESOURCES.find((r) => r.path === url.pathname);
    if (!resource || req.method !== 'GET') return status(404, 'NotFound', `${url.pathname} not found`);
    if (url.searchParams.get('watch') === 'true') return this.watch(resource, url, res, status);
    return this.list(resource, url, res);
  }

  private list(resource: Resource, url: URL, res: ServerResponse): void {
    const all = [...this.objects.get(resource.kind)!.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    const limit = Number(url.searchParams.get('limit') ?? 0) || all.length;
    const token = url.searchParams.get('continue');
    // Continue tokens carry the snapshot's resourceVersion, as the real apiserver's do.
    const [offset, snapshot] = token
      ? (JSON.parse(Buffer.from(token, 'base64').toString()) as [number, number])
      : [0, this.rv];
    const page = all.slice(offset, offset + limit).map(([, o]) => {
      const { kind: _k, apiVersion: _a, ...item } = o;
      return item;
    });
    const more = offset + limit < all.length;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        kind: `${resource.kind}List`,
        apiVersion: resource.apiVersion,
        metadata: {
          resourceVersion: String(snapshot),
          ...(more
            ? { continue: Buffer.from(JSON.stringify([offset + limit, snapshot])).toString('base64') }
            : {}),
        },
        items: page,
      }),
    );
  }

  private watch(
    resource: Resource,
    url: URL,
    res: ServerResponse,
    status: (code: number, reason: string, message: string) => void,
  ): void {
    const from = Number(url.searchParams.get('resourceVersion') ?? this.rv);
    if (!Number.isFinite(from)) return status(400, 'BadRequest', 'invalid resourceVersion');
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    if (from < this.compactedBefore - 1) {
      // The real apiserver answers an expired watch with an ERROR event carrying 410, then ends it.
      this.send(res, 'ERROR', {
        kind: 'Status',
        apiVersion: 'v1',
        status: 'Failure',
        code: 410,
        reason: 'Expired',
        message: `too old resource version: ${from} (${this.compactedBefore})`,
      });
      res.end();
      return;
    }
    for (const entry of this.history)
      if (entry.kind === resource.kind && entry.rv > from) this.send(res, entry.type, entry.object);
    const watcher = { kind: resource.kind, res };
    this.watchers.add(watcher);
    res.on('close', () => this.watchers.delete(watcher));
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? 0);
    if (timeout > 0) setTimeout(() => res.end(), timeout * 1000).unref();
  }
}
