import { generateKeyPairSync } from 'node:crypto';
import {
  encodePlanChange,
  PlanAssembler,
  PlanSigner,
  PlanVerifier,
  signPlanMessages,
} from '@netledger/messaging';
import { DEFAULT_PROXY_CONFIG } from '@netledger/model';
import { NetworkPlanner, PlanRecorder } from '@netledger/planner-core';
import { syntheticCluster } from '../../test/support/synthetic-cluster';
import { round } from './figures';

const MiB = 1024 * 1024;

/** Median of `runs` timings of `work`, in ms. */
function timed(work: () => void, runs = 5): number {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    work();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(runs / 2)]!;
}

/**
 * What trust costs on the plan's path: the planner signing a change's messages (Ed25519 over each
 * part), an executor verifying them, and its validation of every field (schemas and digests) as
 * it puts a change together. A large first change (1,000 nodes, 2,000 services) and a change of
 * one endpoint.
 */
export function benchTrust(): Record<string, number> {
  const cluster = syntheticCluster({ nodes: 1000, services: 2000, endpointsPerService: 10, seed: 11 });
  const model = new NetworkPlanner({ ...DEFAULT_PROXY_CONFIG, clusterCIDRs: ['10.64.0.0/10'] });
  for (const o of [...cluster.nodes, ...cluster.services, ...cluster.slices]) model.upsert(o);
  const recorder = new PlanRecorder();
  const first = recorder.record(model, model.takeChanges())!;
  const slice = cluster.slices[0]!;
  model.upsert({ ...slice, endpoints: slice.endpoints.slice(1) });
  const one = recorder.record(model, model.takeChanges())!;

  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const signer = PlanSigner.fromKey(privateKey);
  const verifier = PlanVerifier.fromKeys([publicKey]);
  const figures: Record<string, number> = {};
  for (const [name, change] of [
    ['FirstChange', first],
    ['OneChange', one],
  ] as const) {
    const messages = encodePlanChange(change.change, change.fragments);
    const bytes = messages.reduce((n, m) => n + m.value.length, 0);
    let signed = signPlanMessages(messages, signer);
    const signMs = timed(() => (signed = signPlanMessages(messages, signer)));
    const values = signed.map((m) => ({ headers: m.headers, value: Buffer.from(m.value) }));
    const verifyMs = timed(() => {
      for (const m of values) verifier.verify(m.headers, m.value);
    });
    const validateMs = timed(() => {
      const assembler = new PlanAssembler(cluster.nodes[3]!.name);
      for (const m of values) assembler.add(m.value);
    }, 3);
    figures[`trust.sign${name}Ms`] = round(signMs, 2);
    figures[`trust.verify${name}Ms`] = round(verifyMs, 2);
    figures[`trust.validate${name}Ms`] = round(validateMs, 2);
    figures[`trust.${name.charAt(0).toLowerCase()}${name.slice(1)}Bytes`] = bytes;
    if (name === 'FirstChange') {
      figures['trust.signMsPerMiB'] = round(signMs / (bytes / MiB), 2);
      figures['trust.verifyMsPerMiB'] = round(verifyMs / (bytes / MiB), 2);
      figures['trust.validateMsPerMiB'] = round(validateMs / (bytes / MiB), 2);
    }
  }
  return figures;
}
