import {
  ConsoleLogger,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { EventSubscription, PgEventStore } from '@netledger/event-store';
import type { RecordedEvent } from '@netledger/model';
import { HealthRegistry } from '@netledger/service';
import { auditRow } from './audit-row';
import { PlanViewService } from './plan-view.service';

const CHECKPOINT = 'api-projections';

/**
 * Builds the API's projections from the event store: the audit index over every event (in
 * PostgreSQL), and the plan now (in memory, PlanViewService). Rebuildable from position 0.
 */
@Injectable()
export class ProjectorService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new ConsoleLogger('projector');
  private subscription: EventSubscription | undefined;
  private caughtUp = false;

  constructor(
    private readonly store: PgEventStore,
    private readonly plan: PlanViewService,
    health: HealthRegistry,
  ) {
    health.register({
      name: 'projections',
      check: async () => {
        if (!this.caughtUp) throw new Error('catching up with the event store');
      },
    });
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.plan.book();
    await this.start();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscription?.stop();
  }

  /** The position the projections have read up to. */
  position(): number {
    return this.subscription?.lastPosition ?? 0;
  }

  /** Waits until the projections have read everything stored now (tests, the rebuild endpoint). */
  async catchUp(timeoutMs = 60_000): Promise<void> {
    const head = await this.store.headPosition();
    const deadline = Date.now() + timeoutMs;
    while (this.position() < head) {
      if (Date.now() > deadline) throw new Error(`projections stuck at ${this.position()}, head ${head}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Drops every projected row and reads the whole log again. */
  async rebuild(): Promise<void> {
    await this.subscription?.stop();
    await this.store.transaction(async (c) => {
      await c.query('TRUNCATE api_audit');
      await this.store.saveCheckpoint(CHECKPOINT, 0, c);
    });
    await this.start();
    await this.catchUp();
  }

  private async start(): Promise<void> {
    const from = (await this.store.loadCheckpoint(CHECKPOINT)) ?? 0;
    this.caughtUp = false;
    this.subscription = new EventSubscription(this.store, {
      from,
      batchSize: 5000,
      pollMs: 200,
      handle: (events) => this.project(events),
      onError: (error) =>
        this.logger.warn(
          `projection batch failed: ${error instanceof Error ? error.message : String(error)}`,
        ),
    });
    await this.subscription.start();
    void this.catchUp(600_000).then(
      () => (this.caughtUp = true),
      () => undefined,
    );
  }

  private async project(events: readonly RecordedEvent[]): Promise<void> {
    await this.store.transaction(async (client) => {
      const rows = events.map(auditRow);
      await client.query(
        `INSERT INTO api_audit (position, recorded_at, type, stream_id, kind, namespace, name, node)
         SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
         ON CONFLICT (position) DO NOTHING`,
        [
          rows.map((r) => r.position),
          rows.map((r) => r.recordedAt),
          rows.map((r) => r.type),
          rows.map((r) => r.streamId),
          rows.map((r) => r.kind),
          rows.map((r) => r.namespace),
          rows.map((r) => r.name),
          rows.map((r) => r.node),
        ],
      );
      await this.store.saveCheckpoint(CHECKPOINT, events.at(-1)!.position, client);
    });
    await this.plan.follow(events);
  }
}
