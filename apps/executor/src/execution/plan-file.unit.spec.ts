import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROXY_CONFIG } from '@netledger/model';
import { NetworkPlanner, PlanRecorder } from '@netledger/planner-core';
import { PlanFile, type KeptPlan } from './plan-file';
import { node } from '../../../../test/support/kube';

/** node-a's part of a one-change plan, as an executor holds it. */
function heldPlan() {
  const model = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.244.0.0/16'] });
  model.upsert(node('node-a', '198.18.0.11', '10.244.1.0/24'));
  model.upsert(node('node-b', '198.18.0.12', '10.244.2.0/24'));
  const recorder = new PlanRecorder();
  recorder.record(model, model.takeChanges());
  const change = recorder.book.snapshot('node-a');
  const fragments = change.fragments.map((digest) => {
    const { kind, value } = recorder.book.fragment(digest)!;
    return { digest, kind, json: JSON.stringify(value) };
  });
  return { change, fragments };
}

describe('PlanFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nl-planfile-'));
  const logs: string[] = [];
  const file = (name: string, nodeName = 'node-a', held: () => KeptPlan | undefined = heldPlan) =>
    new PlanFile(join(dir, name), nodeName, held, 10_000, (m) => logs.push(m));

  it('keeps the plan the host holds and reads it back, validated', async () => {
    const plan = heldPlan();
    await file('a.json', 'node-a', () => plan).flush();
    const read = await file('a.json').read();
    expect(read?.change).toEqual(plan.change);
    expect([...read!.fragments.keys()].sort()).toEqual(plan.fragments.map((f) => f.digest).sort());
  });

  it('keeps beside the plan where the topic goes on after it, for that revision only', async () => {
    const plan = heldPlan();
    await file('o.json', 'node-a', () => ({ ...plan, nextOffset: 1234n })).flush();
    expect(await file('o.json').nextOffset(plan.change.revision)).toBe(1234n);
    expect(await file('o.json').nextOffset(plan.change.revision + 1)).toBeUndefined();
    // A plan kept without an offset (the API's snapshot) leaves none that could be taken for it.
    await file('o.json', 'node-a', () => plan).flush();
    expect(await file('o.json').nextOffset(plan.change.revision)).toBeUndefined();
    writeFileSync(join(dir, 'o.json.offset'), '{"revision":1,"next":"-5"}');
    expect(await file('o.json').nextOffset(1)).toBeUndefined();
  });

  it('has nothing before the first write, and writes nothing while nothing is held', async () => {
    expect(await file('none.json').read()).toBeUndefined();
    await file('none.json', 'node-a', () => undefined).flush();
    expect(await file('none.json').read()).toBeUndefined();
  });

  it('ignores, and says so, a file that is not a plan, is cut short, or is another node’s', async () => {
    await file('b.json').flush();
    const whole = readFileSync(join(dir, 'b.json'), 'utf8');
    writeFileSync(join(dir, 'cut.json'), whole.slice(0, whole.length / 2));
    expect(await file('cut.json').read()).toBeUndefined();
    writeFileSync(join(dir, 'junk.json'), '{"node":"node-a","revision":3}');
    expect(await file('junk.json').read()).toBeUndefined();
    expect(await file('b.json', 'node-z').read()).toBeUndefined();
    expect(logs.filter((l) => l.startsWith('ignoring'))).toHaveLength(3);
    expect(logs.at(-1)).toMatch(/no plan for node node-z/);
  });
});
