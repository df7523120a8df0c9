import { randomBytes } from 'node:crypto';

/** Random bytes are drawn for many ids at once: one call per id cost ~2 µs, 10 ms per 5,000 ids. */
const IDS_PER_DRAW = 1024;
let random = Buffer.alloc(0);
let offset = 0;

/**
 * A new event id: a UUIDv7 (RFC 9562), time-ordered, so that the unique index on event ids grows
 * at its right edge instead of splitting pages all over (appends of thousands of revisions at once).
 */
export function newEventId(now = Date.now()): string {
  if (offset === random.length) {
    random = randomBytes(16 * IDS_PER_DRAW);
    offset = 0;
  }
  const b = random.subarray(offset, offset + 16);
  offset += 16;
  b.writeUIntBE(now, 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
