import { randomUUID } from 'node:crypto';
import { createPool, migrate, PgEventStore } from '@netledger/event-store';
import type { NewEvent } from '@netledger/model';
import { benchDatabase } from './database';

const payload = {
  object: {
    kind: 'EndpointSlice',
    namespace: 'ns-1',
    name: 'svc-1-abcde',
    serviceName: 'svc-1',
    addressType: 'IPv4',
    ports: [{ name: 'http', port: 8080, protocol: 'TCP' }],
    endpoints: Array.from({ length: 5 }, (_, i) => ({
      addresses: [`10.64.0.${i}`],
      ready: true,
      serving: true,
      terminating: false,
      nodeName: `node-${i}`,
    })),
  },
};
const newEvent = (): NewEvent => ({
  eventId: randomUUID(),
  type: 'KubeObjectApplied',
  schemaVersion: 2,
  data: payload,
  metadata: { sourceResourceVersion: '123' },
});

/** Append throughput (single events, batches of 100) and catch-up read throughput. */
export async function benchEventStore(): Promise<Record<string, number>> {
  const db = await benchDatabase();
  const pool = createPool(db.url, { max: 8 });
  try {
    await migrate(pool);
    const store = new PgEventStore(pool);

    // Single events: 4 concurrent writers on their own streams, 2,000 appends.
    let t = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < 500; i++) await store.append(`bench/single/${w}`, 'any', [newEvent()]);
      }),
    );
    const singlePerSec = 2000 / ((performance.now() - t) / 1000);

    // Batches of 100 to one stream each, 4 concurrent writers, 100,000 events.
    t = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 0; i < 250; i++)
          await store.append(`bench/batch/${w}/${i}`, 'no_stream', Array.from({ length: 100 }, newEvent));
      }),
    );
    const batchPerSec = 100_000 / ((performance.now() - t) / 1000);

    // Catch-up: read everything from position 0 in pages of 5,000.
    t = performance.now();
    let position = 0;
    let read = 0;
    for (;;) {
      const page = await store.readAll(position, 5000);
      if (page.length === 0) break;
      read += page.length;
      position = page.at(-1)!.position;
    }
    const catchUpPerSec = read / ((performance.now() - t) / 1000);

    return {
      'eventStore.appendSingleEventsPerSec': Math.round(singlePerSec),
      'eventStore.appendBatch100EventsPerSec': Math.round(batchPerSec),
      'eventStore.catchUpEventsPerSec': Math.round(catchUpPerSec),
    };
  } finally {
    await pool.end();
    await db.drop();
  }
}
