import {
  ConsoleLogger,
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { loadKubeConfig, Reflector, WATCHED_RESOURCES, type KubeResource } from '@netledger/kube';
import { ensureTopics, topicNames } from '@netledger/messaging';
import type { Observation } from '@netledger/model';
import { HealthRegistry, KafkaConnection, Postgres } from '@netledger/service';
import { INGESTER_SETTINGS, type IngesterSettings } from '../ingester-settings';
import { IngestObservations } from './ingest-observations.command';

/**
 * Watches Nodes, Services and EndpointSlices and sends what it sees to the command bus, one
 * reflector per kind, each resuming from the resourceVersion the store last recorded for it.
 */
@Injectable()
export class KubeSourceService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new ConsoleLogger('kube-source');
  private readonly reflectors: Reflector[] = [];

  constructor(
    private readonly commands: CommandBus,
    private readonly postgres: Postgres,
    private readonly kafka: KafkaConnection,
    private readonly health: HealthRegistry,
    @Inject(INGESTER_SETTINGS) private readonly settings: IngesterSettings,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const admin = this.kafka.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [
        {
          name: topicNames(this.settings.topicPrefix).clusterEvents,
          partitions: this.settings.clusterEventsPartitions,
          config: { 'retention.ms': String(this.settings.clusterEventsRetentionMs) },
        },
      ]);
    } finally {
      await admin.disconnect();
    }
    let kc: ReturnType<typeof loadKubeConfig>;
    try {
      kc = loadKubeConfig(this.settings.kubeconfig);
    } catch (error) {
      // Alive but not ready: nothing to watch until it is told where the apiserver is.
      const reason = error instanceof Error ? error.message : String(error);
      this.logger.warn(`not watching: ${reason}`);
      this.health.register({ name: 'watches', check: () => Promise.reject(new Error(reason)) });
      return;
    }
    const { rows } = await this.postgres.pool.query<{ kind: string; resource_version: string }>(
      'SELECT kind, resource_version FROM ingester_resource_versions',
    );
    const resume = new Map(rows.map((r) => [r.kind, r.resource_version]));
    for (const resource of WATCHED_RESOURCES) {
      const reflector = new Reflector(kc, resource, this.handlerFor(resource), {
        resumeFrom: resume.get(resource.kind),
        log: (level, message) => (level === 'warn' ? this.logger.warn(message) : this.logger.log(message)),
      });
      this.reflectors.push(reflector);
      reflector.start();
    }
    this.health.register({
      name: 'watches',
      check: async () => {
        const missing = this.reflectors
          .filter((r) => r.resourceVersion === undefined)
          .map((r) => r.resource.kind);
        if (missing.length) throw new Error(`not synced yet: ${missing.join(', ')}`);
      },
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(this.reflectors.map((r) => r.stop()));
  }

  private handlerFor(resource: KubeResource) {
    const send = (observations: Observation[], resourceVersion: string, relist: boolean) =>
      this.commands.execute(new IngestObservations(resource.kind, observations, resourceVersion, relist));
    return {
      onList: async (objects: Record<string, unknown>[], rv: string) => {
        const observations = objects.map((raw) => ({
          type: 'seen' as const,
          raw,
          resourceVersion: (raw.metadata as { resourceVersion?: string } | undefined)?.resourceVersion ?? rv,
        }));
        const outcome = await send(observations, rv, true);
        this.logger.log(`${resource.kind}: relisted ${objects.length} at ${rv}: ${JSON.stringify(outcome)}`);
      },
      onEvent: async (type: 'ADDED' | 'MODIFIED' | 'DELETED', raw: Record<string, unknown>, rv: string) => {
        const m = raw.metadata as { namespace?: string; name?: string } | undefined;
        const observation: Observation =
          type === 'DELETED'
            ? {
                type: 'gone',
                kind: resource.kind,
                namespace: m?.namespace,
                name: m?.name ?? '',
                resourceVersion: rv,
                inferred: false,
              }
            : { type: 'seen', raw, resourceVersion: rv };
        await send([observation], rv, false);
      },
      onBookmark: async (rv: string) => {
        await send([], rv, false);
      },
    };
  }
}
