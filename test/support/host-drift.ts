import { driftCount, LinuxHost, reconcileDiff } from '@netledger/dataplane';
import type { NodeState } from '@netledger/model';
import { ownsChain } from '@netledger/planner-core';

/**
 * How many entries a network namespace's host differs by from `desired`, read back as an
 * executor holding `desired` owns it (its chains, the overlay device, its routes).
 */
export async function hostDrift(netns: string, desired: NodeState): Promise<number> {
  const host = new LinuxHost({
    netns,
    device: () => [...desired.devices.keys()][0] ?? 'flannel.1',
    ownsRoute: (r) => desired.routes.has(r.dst),
    ownsChain: (c, family) => ownsChain(desired, c, family),
  });
  return driftCount(reconcileDiff(await host.read(), desired));
}
