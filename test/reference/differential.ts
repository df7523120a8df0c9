/**
 * A longer differential run that lists every seed where Netledger and kube-proxy differ, and in
 * which chains, instead of stopping at the first:
 *
 *   npx tsx --conditions=netledger-source test/reference/differential.ts [CASES] [FIRST_SEED] [cold|incremental] [RELEASE] [IPv4|IPv6|dual]
 */
import { DEFAULT_KUBE_PROXY_RELEASE, parseKubeProxyRelease } from '@netledger/model';
import { KubeProxyReference, referenceBinary } from './kube-proxy-reference';
import { differingKeys, runCase } from './kube-proxy-case';
import type { Stack } from './random-cluster';

async function main(): Promise<void> {
  const cases = Number(process.argv[2] ?? 2000);
  const first = Number(process.argv[3] ?? 1);
  const incremental = process.argv[4] === 'incremental';
  const release = parseKubeProxyRelease(process.argv[5] ?? DEFAULT_KUBE_PROXY_RELEASE);
  const stack = (process.argv[6] ?? 'IPv4') as Stack;
  const reference = new KubeProxyReference(referenceBinary(release));
  const byKey = new Map<string, number[]>();
  let differing = 0;
  const started = Date.now();
  for (let seed = first; seed < first + cases; seed++) {
    const result = await runCase(reference, seed, incremental, release, stack);
    const keys = [...new Set(result.nodes.flatMap((n) => differingKeys(n).map((k) => `${n.family} ${k}`)))];
    if (keys.length > 0) differing++;
    for (const key of keys) {
      const family = key.replace(/KUBE-(SVC|SEP|EXT|FW|SVL)-[A-Z0-9]{16}/, 'KUBE-$1-*');
      byKey.set(family, [...(byKey.get(family) ?? []), seed]);
    }
  }
  reference.close();
  console.log(
    JSON.stringify(
      {
        cases,
        firstSeed: first,
        incremental,
        release,
        stack,
        differingCases: differing,
        seconds: (Date.now() - started) / 1000,
        differences: Object.fromEntries(
          [...byKey].map(([k, seeds]) => [
            k,
            `${seeds.length} cases, e.g. seeds ${seeds.slice(0, 6).join(' ')}`,
          ]),
        ),
      },
      null,
      2,
    ),
  );
  process.exitCode = differing > 0 ? 1 : 0;
}

void main();
