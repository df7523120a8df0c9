import { describe, expect, it } from 'vitest';
import { nodeState } from '@netledger/model';
import { driftCount, reconcileDiff } from './reconcile';

describe('reconcileDiff', () => {
  const direct = { dst: '10.244.2.0/24', via: '198.18.0.12', dev: null, onlink: false };

  it('takes a route placed without a device (DirectRouting) as it reads back, on the device the kernel picked', () => {
    const desired = nodeState({ routes: [direct] });
    expect(driftCount(reconcileDiff(nodeState({ routes: [{ ...direct, dev: 'eth0' }] }), desired))).toBe(0);
  });

  it('still finds a direct route with another next hop, or one that is missing', () => {
    const desired = nodeState({ routes: [direct] });
    const moved = nodeState({ routes: [{ ...direct, via: '198.18.0.99', dev: 'eth0' }] });
    expect(reconcileDiff(moved, desired).routes.upsert).toEqual([direct]);
    expect(reconcileDiff(nodeState({}), desired).routes.upsert).toEqual([direct]);
  });
});
