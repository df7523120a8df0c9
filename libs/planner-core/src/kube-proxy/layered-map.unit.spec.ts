import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LayeredMap } from './layered-map';

const KEYS = Array.from({ length: 151 }, (_, n) => `port-${n}`);
const key = fc.constantFrom(...KEYS);
/** A version's changes: a value sets the key, undefined deletes it. */
const changes = fc.array(fc.tuple(key, fc.option(fc.integer(), { nil: undefined })), { maxLength: 40 });

describe('LayeredMap', () => {
  it('reads as a Map given the same changes would, every version left as it was', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(key, fc.integer())),
        fc.array(changes, { maxLength: 30 }),
        (start, steps) => {
          let layered = LayeredMap.of(start);
          let plain = new Map(start);
          const versions: [LayeredMap<string, number>, Map<string, number>][] = [[layered, plain]];
          for (const step of steps) {
            layered = layered.with(step);
            plain = new Map(plain);
            for (const [k, v] of step) {
              if (v === undefined) plain.delete(k);
              else plain.set(k, v);
            }
            versions.push([layered, plain]);
          }
          const read = (m: ReadonlyMap<string, number>) => [
            m.size,
            KEYS.map((k) => [m.get(k), m.has(k)]),
            [...m].sort(),
          ];
          expect(versions.map(([l]) => read(l))).toEqual(versions.map(([, p]) => read(p)));
        },
      ),
      { numRuns: 100 },
    );
  });
});
