import { afterEach, describe, expect, it } from 'vitest';
import { kubeConfigFor } from './kube-config';
import { NODES, SERVICES } from './resources';
import { Reflector, type ReflectorHandler } from './reflector';
import { FakeApiServer } from '../../../test/support/fake-apiserver';
import { rawNode, rawService } from '../../../test/support/kube';

type Seen = { lists: { names: string[]; rv: string }[]; events: string[]; bookmarks: string[] };

function recorder(): ReflectorHandler & { seen: Seen } {
  const seen: Seen = { lists: [], events: [], bookmarks: [] };
  const name = (o: Record<string, unknown>) => (o.metadata as { name: string }).name;
  return {
    seen,
    onList: async (objects, rv) => void seen.lists.push({ names: objects.map(name).sort(), rv }),
    onEvent: async (type, object, rv) =>
      void seen.events.push(`${type} ${name(object)} ${rv} ${String(object.kind)}`),
    onBookmark: async (rv) => void seen.bookmarks.push(rv),
  };
}

const until = async (what: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!what()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('Reflector (list/watch against an apiserver stand-in)', () => {
  let server: FakeApiServer;
  let reflector: Reflector | undefined;
  afterEach(async () => {
    await reflector?.stop();
    await server?.stop();
  });

  it('lists in pages at one resourceVersion, then watches from it, with bookmarks', async () => {
    server = new FakeApiServer({ token: 't0ken', bookmarkMs: 50 });
    const url = await server.start();
    for (let i = 0; i < 7; i++)
      server.apply(rawNode(`n${i}`, `192.168.0.${i + 1}`) as Record<string, unknown>);
    const h = recorder();
    reflector = new Reflector(kubeConfigFor(url, 't0ken'), NODES, h, { pageSize: 3 });
    reflector.start();
    await until(() => h.seen.lists.length === 1);
    expect(h.seen.lists[0]).toEqual({ names: ['n0', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6'], rv: '107' });
    expect(
      server.requests.filter((r) => r.startsWith('GET /api/v1/nodes?') && !r.includes('watch=true')),
    ).toHaveLength(3);
    server.apply(rawNode('n7', '192.168.0.8') as Record<string, unknown>);
    server.delete('Node', undefined, 'n0');
    await until(() => h.seen.events.length === 2 && h.seen.bookmarks.length > 0);
    expect(h.seen.events).toEqual(['ADDED n7 108 Node', 'DELETED n0 109 Node']);
    expect(
      server.requests.some(
        (r) =>
          r.includes('watch=true') &&
          r.includes('resourceVersion=107') &&
          r.includes('allowWatchBookmarks=true'),
      ),
    ).toBe(true);
  });

  it('resumes from a stored resourceVersion without listing, and re-watches after a dropped connection', async () => {
    server = new FakeApiServer();
    const url = await server.start();
    server.apply(rawService('ns', 'a', {}) as Record<string, unknown>);
    const rv = server.apply(rawService('ns', 'b', {}) as Record<string, unknown>);
    server.apply(rawService('ns', 'c', {}) as Record<string, unknown>);
    const h = recorder();
    reflector = new Reflector(kubeConfigFor(url, 'x'), SERVICES, h, { resumeFrom: String(rv) });
    reflector.start();
    await until(() => h.seen.events.length === 1);
    expect(h.seen.lists).toEqual([]);
    expect(h.seen.events).toEqual(['ADDED c 103 Service']);
    server.dropWatches();
    server.apply(rawService('ns', 'd', {}) as Record<string, unknown>);
    await until(() => h.seen.events.length === 2);
    expect(h.seen.events[1]).toBe('ADDED d 104 Service');
    expect(server.requests.filter((r) => r.includes('watch=true')).at(-1)).toContain('resourceVersion=103');
  });

  it('lists again on 410 Gone, and keeps trying while the apiserver refuses', async () => {
    server = new FakeApiServer();
    const url = await server.start();
    server.apply(rawService('ns', 'a', {}) as Record<string, unknown>);
    server.apply(rawService('ns', 'b', {}) as Record<string, unknown>);
    server.compact();
    const h = recorder();
    reflector = new Reflector(kubeConfigFor(url, 'x'), SERVICES, h, { resumeFrom: '100', maxBackoffMs: 100 });
    reflector.start();
    await until(() => h.seen.lists.length === 1);
    expect(h.seen.lists[0]!.names).toEqual(['a', 'b']);
    server.refuse(true);
    await new Promise((r) => setTimeout(r, 300));
    server.apply(rawService('ns', 'c', {}) as Record<string, unknown>);
    server.refuse(false);
    await until(() => h.seen.events.includes('ADDED c 103 Service'));
  });
});
