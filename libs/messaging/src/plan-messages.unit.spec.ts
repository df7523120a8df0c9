import { describe, expect, it } from 'vitest';
import { DEFAULT_PROXY_CONFIG, isNetledgerError } from '@netledger/model';
import { NetworkPlanner, PlanRecorder, type RecordedChange } from '@netledger/planner-core';
import { syntheticCluster } from '../../../test/support/synthetic-cluster';
import { encodePlanChange, PlanAssembler, planMessageRevision } from './plan-messages';

/** The first change of a cluster of `nodes` nodes and `services` services. */
function firstChange(nodes: number, services: number): RecordedChange {
  const cluster = syntheticCluster({ nodes, services, endpointsPerService: 3, seed: 9 });
  const model = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.64.0.0/10'] });
  for (const o of [...cluster.nodes, ...cluster.services, ...cluster.slices]) model.upsert(o);
  return new PlanRecorder().record(model, model.takeChanges())!;
}

const errorOf = (f: () => unknown): unknown => {
  try {
    f();
  } catch (error) {
    return error;
  }
  return undefined;
};

describe('plan messages', () => {
  it('cut a large change into parts under the size limit, put back together whole, manifest by manifest', () => {
    const recorded = firstChange(300, 600);
    const messages = encodePlanChange(recorded.change, recorded.fragments);
    expect(messages.length).toBeGreaterThan(1);
    for (const m of messages) expect(m.value.length).toBeLessThan(1024 * 1024);
    expect(messages.map((m) => planMessageRevision(m.headers))).toEqual(messages.map(() => 1));
    const assembler = new PlanAssembler();
    const out = messages.map((m) => assembler.add(m.value));
    expect(out.slice(0, -1).every((o) => o === undefined)).toBe(true);
    const whole = out.at(-1)!;
    expect(whole.change).toEqual(JSON.parse(JSON.stringify(recorded.change)));
    expect([...whole.fragments.keys()].sort()).toEqual(recorded.fragments.map((f) => f.digest).sort());
    // One node's consumer keeps that node's manifest only.
    const one = new PlanAssembler('node-7');
    const mine = messages.map((m) => one.add(m.value)).at(-1)!;
    expect(mine.change.manifests.set.map((m) => m.node)).toEqual(['node-7']);
  });

  it('refuse a body that does not match its digest, and a fragment that is not of its kind', () => {
    const recorded = firstChange(3, 2);
    const [message] = encodePlanChange(recorded.change, recorded.fragments);
    const parsed = JSON.parse(message!.value) as {
      fragments: { kind: string; body: { portName?: string } }[];
    };
    const service = parsed.fragments.find((f) => f.kind === 'service')!;
    service.body.portName = 'default/evil:http';
    const forged = errorOf(() => new PlanAssembler().add(JSON.stringify(parsed)));
    expect(isNetledgerError(forged, 'MESSAGE.INVALID')).toBe(true);
    expect((forged as Error).message).toMatch(/does not match its digest/);

    const wrongKind = JSON.parse(message!.value) as { fragments: { kind: string }[] };
    wrongKind.fragments.find((f) => f.kind === 'peer')!.kind = 'fixed';
    expect(() => new PlanAssembler().add(JSON.stringify(wrongKind))).toThrow(/digest|fixed fragment/);
  });

  it('refuse what is not a plan message, and skip parts whose beginning was not seen', () => {
    expect(() => new PlanAssembler().add('not json')).toThrow(/not JSON/);
    expect(() => new PlanAssembler().add('{"revision":1}')).toThrow(/missing/);
    const recorded = firstChange(300, 600);
    const messages = encodePlanChange(recorded.change, recorded.fragments);
    const assembler = new PlanAssembler();
    // A consumer that starts in the middle of a change puts nothing together from it...
    for (const m of messages.slice(1)) expect(assembler.add(m.value)).toBeUndefined();
    // ...and the change sent again, whole, comes through.
    expect(messages.map((m) => assembler.add(m.value)).at(-1)?.change.revision).toBe(1);
    // A manifest that breaks the schema is refused with where.
    const bad = JSON.parse(messages[0]!.value) as { manifests: { fixed: string }[]; parts: number };
    const withManifest = messages
      .map((m) => JSON.parse(m.value) as { manifests: { fixed: string }[] })
      .find((m) => m.manifests.length > 0)!;
    withManifest.manifests[0]!.fixed = 'not-a-digest';
    expect(bad.parts).toBeGreaterThan(1);
    const single = { ...withManifest, part: 0, parts: 1, change: JSON.parse(messages[0]!.value).change };
    expect(() => new PlanAssembler().add(JSON.stringify(single))).toThrow(/node manifest: fixed/);
  });
});
