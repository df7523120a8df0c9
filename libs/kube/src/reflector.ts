import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { KubeResource } from './resources';

/** What a reflector reports; it waits for each promise before it goes on (events stay in order). */
export interface ReflectorHandler {
  /** Every object that exists now (after a first start or a 410), and the list's resourceVersion. */
  onList(objects: Record<string, unknown>[], resourceVersion: string): Promise<void>;
  onEvent(
    type: 'ADDED' | 'MODIFIED' | 'DELETED',
    object: Record<string, unknown>,
    resourceVersion: string,
  ): Promise<void>;
  /** The watch has seen everything up to `resourceVersion` (a bookmark). */
  onBookmark(resourceVersion: string): Promise<void>;
}

export interface ReflectorOptions {
  /** Resume the watch from here (the last resourceVersion recorded); a list when absent or expired. */
  readonly resumeFrom?: string | undefined;
  readonly pageSize?: number;
  readonly log?: (level: 'info' | 'warn', message: string) => void;
  /** Asks the server to end a watch after this long (client-go picks 5-10 minutes). */
  readonly watchTimeoutSeconds?: number;
  readonly maxBackoffMs?: number;
}

class WatchExpired extends Error {}

/**
 * client-go's reflector for one kind: list (paged), then watch from the list's resourceVersion
 * with bookmarks; on a dropped connection, watch again from the last resourceVersion seen; on
 * 410 Gone (history compacted), list again. Resumes from a stored resourceVersion after a restart.
 */
export class Reflector {
  private running = false;
  private loop: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private sleeping: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  private lastResourceVersion: string | undefined;

  constructor(
    private readonly kc: KubeConfig,
    readonly resource: KubeResource,
    private readonly handler: ReflectorHandler,
    private readonly options: ReflectorOptions = {},
  ) {
    this.lastResourceVersion = options.resumeFrom;
  }

  /** The last resourceVersion handed to the handler. */
  get resourceVersion(): string | undefined {
    return this.lastResourceVersion;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort?.abort();
    if (this.sleeping) {
      clearTimeout(this.sleeping.timer);
      this.sleeping.resolve();
    }
    await this.loop;
  }

  private log(level: 'info' | 'warn', message: string): void {
    this.options.log?.(level, `${this.resource.kind}: ${message}`);
  }

  private async run(): Promise<void> {
    let backoff = 100;
    while (this.running) {
      try {
        if (!this.lastResourceVersion) await this.relist();
        if (!this.running) break;
        const progressed = await this.watch(this.lastResourceVersion!);
        if (progressed) backoff = 100;
        else await this.sleep(backoff);
      } catch (error) {
        if (error instanceof WatchExpired) {
          this.log('info', `resourceVersion ${this.lastResourceVersion} expired (410 Gone): listing again`);
          this.lastResourceVersion = undefined;
          continue;
        }
        if (!this.running) break;
        this.log(
          'warn',
          `${error instanceof Error ? error.message : String(error)}; retrying in ${backoff} ms`,
        );
        await this.sleep(backoff);
        backoff = Math.min(backoff * 2, this.options.maxBackoffMs ?? 10_000);
      }
    }
  }

  private async relist(): Promise<void> {
    const objects: Record<string, unknown>[] = [];
    let token: string | undefined;
    let resourceVersion = '';
    do {
      const page = await this.resource.list(this.kc, this.options.pageSize ?? 500, token);
      objects.push(...page.items);
      // The first page's resourceVersion is the snapshot every page is consistent with.
      if (!token) resourceVersion = page.resourceVersion;
      token = page.continueToken;
    } while (token);
    await this.handler.onList(objects, resourceVersion);
    this.lastResourceVersion = resourceVersion;
    this.log('info', `listed ${objects.length} at resourceVersion ${resourceVersion}`);
  }

  /** One watch connection; resolves when it ends, true when it delivered anything. */
  private async watch(from: string): Promise<boolean> {
    let progressed = false;
    let queue = Promise.resolve();
    let failure: unknown;
    const controller = new AbortController();
    this.abort = controller;
    const ended = new Promise<void>((resolve) => {
      const done = (error: unknown) => {
        if (error && !failure && !controller.signal.aborted) failure = error;
        resolve();
      };
      const onEvent = (type: string, object: Record<string, unknown>) => {
        queue = queue.then(async () => {
          if (failure || controller.signal.aborted) return;
          try {
            if (type === 'ERROR') {
              const code = (object as { code?: number }).code;
              throw code === 410
                ? new WatchExpired()
                : new Error(`watch error ${code}: ${(object as { message?: string }).message}`);
            }
            const rv = (object.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
            if (!rv) return;
            if (type === 'BOOKMARK') await this.handler.onBookmark(rv);
            else if (type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED') {
              await this.handler.onEvent(
                type,
                { ...object, kind: this.resource.kind, apiVersion: this.resource.apiVersion },
                rv,
              );
            } else return;
            this.lastResourceVersion = rv;
            progressed = true;
          } catch (error) {
            failure = error;
            controller.abort();
          }
        });
      };
      new Watch(this.kc)
        .watch(
          this.resource.path,
          {
            resourceVersion: from,
            allowWatchBookmarks: true,
            timeoutSeconds: this.options.watchTimeoutSeconds ?? 300,
          },
          onEvent,
          done,
        )
        .then((inner) => {
          // stop() may have come while the connection was being made.
          if (controller.signal.aborted) inner.abort();
          else controller.signal.addEventListener('abort', () => inner.abort());
        })
        .catch(done);
    });
    await ended;
    await queue;
    const status = (failure as { statusCode?: number } | undefined)?.statusCode;
    if (status === 410) throw new WatchExpired();
    if (failure) throw failure;
    return progressed;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.sleeping = undefined;
        resolve();
      }, ms);
      this.sleeping = { timer, resolve };
    });
  }
}
