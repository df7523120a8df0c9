import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KubeProxyRelease } from '@netledger/model';
import { KubeProxyReference, referenceBinary } from './kube-proxy-reference';
import { runCase, type CaseResult } from './kube-proxy-case';
import type { Stack } from './random-cluster';

/*
 * The differential test: random clusters planned by Netledger and by kube-proxy's own iptables
 * proxier (k8s.io/kubernetes at the version test/reference/kube-proxy/go.mod names, with its fake
 * iptables). CI runs a fixed seed range; NETLEDGER_DIFFERENTIAL_CASES and
 * NETLEDGER_DIFFERENTIAL_FIRST_SEED run more, or other ones; test/reference/differential.ts lists
 * every differing seed of a longer run.
 */
const CASES = Number(process.env.NETLEDGER_DIFFERENTIAL_CASES ?? 1000);
const FIRST_SEED = Number(process.env.NETLEDGER_DIFFERENTIAL_FIRST_SEED ?? 1);

/** Nodes of one cluster were given different endpoints of one service by topology hints. */
function usesTopology(result: CaseResult): boolean {
  const svcChains = (r: CaseResult['nodes'][number]) =>
    Object.entries(r.theirs.chains).filter(([key]) => key.startsWith('nat/KUBE-SVC-'));
  const seen = new Map<string, string>();
  for (const node of result.nodes) {
    for (const [chain, rules] of svcChains(node)) {
      const key = `${node.family}/${chain}`;
      const text = JSON.stringify(rules);
      if (seen.has(key) && seen.get(key) !== text) return true;
      seen.set(key, text);
    }
  }
  return false;
}

/**
 * Every release Netledger writes, against that release's own proxier, on single-stack IPv4 and
 * IPv6 clusters and on dual-stack ones (each family's proxier compared on its own); the default
 * release longest.
 */
const RUNS: readonly { release: KubeProxyRelease; stack: Stack; cases: number }[] = [
  { release: 'v1.37', stack: 'IPv4', cases: CASES },
  { release: 'v1.37', stack: 'IPv6', cases: Math.ceil(CASES / 2) },
  { release: 'v1.37', stack: 'dual', cases: Math.ceil(CASES / 2) },
  { release: 'v1.36', stack: 'dual', cases: Math.ceil(CASES / 4) },
  { release: 'v1.34', stack: 'dual', cases: Math.ceil(CASES / 4) },
];

describe.each(RUNS)(
  'Netledger against kube-proxy $release on $stack clusters (its iptables proxier, built from the Go module proxy)',
  ({ release, stack, cases }) => {
    let reference: KubeProxyReference;

    beforeAll(() => {
      reference = new KubeProxyReference(referenceBinary(release));
    }, 900_000);

    afterAll(() => reference?.close());

    const compare = async (incremental: boolean) => {
      let rules = 0;
      let nodes = 0;
      let topologyNarrowed = 0;
      for (let seed = FIRST_SEED; seed < FIRST_SEED + cases; seed++) {
        const result = await runCase(reference, seed, incremental, release, stack);
        for (const { node, ours, theirs } of result.nodes) {
          expect(ours.chains, `seed ${seed}, ${node}: chains`).toEqual(theirs.chains);
          expect(ours.jumps, `seed ${seed}, ${node}: jumps from built-in chains`).toEqual(theirs.jumps);
          rules += Object.values(theirs.chains).reduce((n, r) => n + r.length, 0);
          nodes++;
        }
        if (usesTopology(result)) topologyNarrowed++;
      }
      // Not a vacuous comparison: the clusters produce service rules, and hints do narrow nodes'
      // endpoints in a good share of them.
      expect(rules).toBeGreaterThan(nodes * 10);
      expect(topologyNarrowed).toBeGreaterThan(cases / 10);
    };

    it(`programs what kube-proxy programs, node by node, on ${cases} random clusters`, async () => {
      await compare(false);
    });

    it(`still does when it reaches each of them as a change from another cluster`, async () => {
      await compare(true);
    });
  },
);
