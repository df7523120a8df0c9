import { describe, expect, it } from 'vitest';
import { DEFAULT_PROXY_CONFIG, fragmentDigest, isNetledgerError } from '@netledger/model';
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

  it('refuse a value that would add a line or an argument to a host command, even with its digest right', () => {
    const recorded = firstChange(3, 2);
    const [message] = encodePlanChange(recorded.change, recorded.fragments, Number.POSITIVE_INFINITY);
    type Fragment = { digest: string; kind: 'service' | 'peer'; body: Record<string, unknown> };
    const tampered = (edit: (f: Fragment) => boolean) => {
      const parsed = JSON.parse(message!.value) as { fragments: Fragment[] };
      const f = parsed.fragments.find(edit)!;
      // As a planner would have sent it: the digest taken of the tampered body.
      f.digest = fragmentDigest(f.kind, JSON.stringify(f.body));
      return errorOf(() => new PlanAssembler().add(JSON.stringify(parsed)));
    };
    const newlineInRule = tampered((f) => {
      if (f.kind !== 'service') return false;
      const rules = f.body.natServices as string[];
      rules[0] = `${rules[0]}\n-A INPUT -j ACCEPT`;
      return true;
    });
    expect(isNetledgerError(newlineInRule, 'MESSAGE.INVALID')).toBe(true);
    expect((newlineInRule as Error).message).toMatch(/control character/);
    const argumentInRoute = tampered((f) => {
      if (f.kind !== 'peer') return false;
      (f.body.route as { dst: string }).dst = '10.244.1.0/24 dev eth0';
      return true;
    });
    expect((argumentInRoute as Error).message).toMatch(/an IP prefix/);
    const commandInMac = tampered((f) => {
      if (f.kind !== 'peer') return false;
      (f.body.fdb as { mac: string }).mac = '0a:58:0a:f4:01:01 dev x\nnetns exec h sh';
      return true;
    });
    expect((commandInMac as Error).message).toMatch(/a MAC address/);
  });

  it('refuse a change larger than the consumer takes, part by part, without holding it', () => {
    const recorded = firstChange(300, 600);
    const messages = encodePlanChange(recorded.change, recorded.fragments);
    const limit = Math.floor(messages.reduce((n, m) => n + m.value.length, 0) / 2);
    const assembler = new PlanAssembler(undefined, limit);
    const refused = messages.map((m) => errorOf(() => assembler.add(m.value))).find(Boolean);
    expect((refused as Error).message).toMatch(new RegExp(`larger than ${limit} bytes`));
  });
});
