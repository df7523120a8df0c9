import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_NODE_STATE, isEmptyDiff, nodeState, type ChainEntry, type NodeState } from '@netledger/model';
import { applyNodeDiff, applyRuleEdits, diffNodeStates, nodeStatesEqual } from './diff';
import { ruleEdits } from './rule-edits';

const ruleArb = fc.constantFrom(
  '-j A',
  '-j B',
  '-s 10.0.0.1 -j C',
  '-m tcp -p tcp --dport 80 -j D',
  '-j E',
  '-j F',
  '-j G',
);
const chainArb = (table: 'filter' | 'nat') =>
  fc.record({
    table: fc.constant(table),
    chain: fc.constantFrom('KUBE-SERVICES', 'KUBE-NODEPORTS', 'KUBE-SVC-A', 'KUBE-SEP-B', 'FLANNEL-FWD'),
    rules: fc.array(ruleArb, { maxLength: 40 }),
  });
const ipArb = fc.constantFrom('10.244.1.0', '10.244.2.0', '10.244.3.0', '10.244.4.0');
const macArb = fc.constantFrom('02:00:00:00:00:01', '02:00:00:00:00:02', '02:00:00:00:00:03');

const stateArb: fc.Arbitrary<NodeState> = fc
  .record({
    chains: fc.array(fc.oneof(chainArb('filter'), chainArb('nat')), { maxLength: 8 }),
    jumps: fc.array(
      fc.record({
        table: fc.constantFrom('filter' as const, 'nat' as const),
        chain: fc.constantFrom('INPUT', 'FORWARD'),
        rule: ruleArb,
        position: fc.constantFrom('prepend' as const, 'append' as const),
      }),
      { maxLength: 4 },
    ),
    routes: fc.array(
      fc.record({
        dst: ipArb.map((ip) => `${ip}/24`),
        via: ipArb,
        dev: fc.constantFrom('flannel.1', null),
        onlink: fc.boolean(),
      }),
      { maxLength: 4 },
    ),
    neighbours: fc.array(fc.record({ dev: fc.constant('flannel.1'), ip: ipArb, lladdr: macArb }), {
      maxLength: 4,
    }),
    fdb: fc.array(
      fc.record({
        dev: fc.constant('flannel.1'),
        mac: macArb,
        dst: fc.constantFrom('192.168.0.2', '192.168.0.3'),
      }),
      { maxLength: 4 },
    ),
    device: fc.option(
      fc.record({
        name: fc.constant('flannel.1'),
        vni: fc.constant(1),
        port: fc.constantFrom(8472, 4789),
        localIp: fc.constant('192.168.0.2'),
        mac: macArb,
        mtu: fc.constantFrom(1450, 8950),
        address: fc.constant('10.244.1.0/32'),
        learning: fc.constant(false as const),
        gbp: fc.constant(false),
      }),
    ),
  })
  .map((p) => nodeState({ ...p, devices: p.device ? [p.device] : [] }));

/** A state derived from `base` by small changes, so diffs exercise rule edits of long chains. */
const nearbyArb = (base: NodeState) =>
  fc.array(fc.tuple(fc.nat(), fc.nat(), ruleArb, fc.boolean()), { maxLength: 6 }).map((changes) => {
    const chains: ChainEntry[] = [...base.chains.values()].map((c) => ({ ...c, rules: [...c.rules] }));
    for (const [which, at, rule, insert] of changes) {
      const c = chains[which % Math.max(1, chains.length)];
      if (!c) break;
      const rules = c.rules as string[];
      if (insert || rules.length === 0) rules.splice(at % (rules.length + 1), 0, rule);
      else rules.splice(at % rules.length, 1);
    }
    return nodeState({
      ...base,
      chains,
      jumps: base.jumps.values(),
      devices: base.devices.values(),
      routes: base.routes.values(),
      neighbours: base.neighbours.values(),
      fdb: base.fdb.values(),
    });
  });

describe('diff and apply', () => {
  it('apply(a, diff(a, b)) equals b for random states (1,000 cases)', () => {
    fc.assert(
      fc.property(stateArb, stateArb, (a, b) => {
        expect(nodeStatesEqual(applyNodeDiff(a, diffNodeStates(a, b)), b)).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('apply(a, diff(a, b)) equals b for nearby states, where chains change by rule edits (1,000 cases)', () => {
    let edited = 0;
    fc.assert(
      fc.property(
        stateArb.chain((a) => fc.tuple(fc.constant(a), nearbyArb(a))),
        ([a, b]) => {
          const d = diffNodeStates(a, b);
          if (d.chains.some((c) => c.op === 'edit')) edited++;
          expect(nodeStatesEqual(applyNodeDiff(a, d), b)).toBe(true);
        },
      ),
      { numRuns: 1000 },
    );
    expect(edited).toBeGreaterThan(100);
  });

  it('diff of a state with itself is empty; from empty it creates everything', () => {
    fc.assert(
      fc.property(stateArb, (a) => {
        expect(isEmptyDiff(diffNodeStates(a, a))).toBe(true);
        expect(nodeStatesEqual(applyNodeDiff(EMPTY_NODE_STATE, diffNodeStates(EMPTY_NODE_STATE, a)), a)).toBe(
          true,
        );
      }),
      { numRuns: 200 },
    );
  });
});

describe('rule edits', () => {
  it('finds the minimal edit script and applies in order', () => {
    const from = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'];
    const to = ['a', 'b', 'x', 'c', 'd', 'e', 'f', 'h', 'i', 'j'];
    const edits = ruleEdits(from, to, 10)!;
    expect(edits).toEqual([
      { op: 'insert', at: 2, rule: 'x' },
      { op: 'delete', at: 7 },
    ]);
    expect(applyRuleEdits(from, edits)).toEqual(to);
  });

  it('gives up beyond the edit budget', () => {
    expect(ruleEdits(['a', 'b', 'c', 'd'], ['w', 'x', 'y', 'z'], 3)).toBeUndefined();
  });

  it('a 10,000-rule chain with one rule inserted changes by one edit', () => {
    const from = Array.from({ length: 10_000 }, (_, i) => `-d 10.0.${i >> 8}.${i & 255} -j X`);
    const to = [...from.slice(0, 5000), '-d 10.9.9.9 -j Y', ...from.slice(5000)];
    expect(ruleEdits(from, to, 100)).toEqual([{ op: 'insert', at: 5000, rule: '-d 10.9.9.9 -j Y' }]);
  });

  it('refuses edits that do not fit', () => {
    expect(() => applyRuleEdits(['a'], [{ op: 'delete', at: 1 }])).toThrow(/outside a chain of 1 rules/);
  });
});
