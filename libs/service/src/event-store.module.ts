import { Inject, Injectable, Module, type DynamicModule, type OnModuleInit } from '@nestjs/common';
import { EVENT_STORE_MIGRATIONS, migrate, PgEventStore, type Migration } from '@netledger/event-store';
import { CLUSTER_EVENT_UPCASTERS, CLUSTER_EVENT_VERSIONS } from '@netledger/model';
import { Postgres, PostgresModule } from './dependencies';

const APP_MIGRATIONS = Symbol('APP_MIGRATIONS');

/** Runs the event store's and the app's migrations before anything else uses the database. */
@Injectable()
export class Migrations implements OnModuleInit {
  constructor(
    private readonly postgres: Postgres,
    @Inject(APP_MIGRATIONS) private readonly extra: readonly Migration[],
  ) {}

  async onModuleInit(): Promise<void> {
    await migrate(this.postgres.pool, [...EVENT_STORE_MIGRATIONS, ...this.extra]);
  }
}

/** The event store, with every known upcaster, on the process's pool. */
@Module({})
export class EventStoreModule {
  static forRoot(appMigrations: readonly Migration[] = []): DynamicModule {
    return {
      module: EventStoreModule,
      imports: [PostgresModule],
      providers: [
        { provide: APP_MIGRATIONS, useValue: appMigrations },
        Migrations,
        {
          provide: PgEventStore,
          inject: [Postgres, Migrations],
          useFactory: (postgres: Postgres) =>
            new PgEventStore(postgres.pool, {
              upcasters: CLUSTER_EVENT_UPCASTERS,
              versions: CLUSTER_EVENT_VERSIONS,
            }),
        },
      ],
      exports: [PgEventStore, PostgresModule],
    };
  }
}
