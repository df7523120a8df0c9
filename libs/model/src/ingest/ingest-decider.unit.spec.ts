import { describe, expect, it } from 'vitest';
import { decideObservation, objectDigest, type KnownObject } from './ingest-decider';
import { validateService } from '../kube/validate';

const raw = (clusterIP: string, rv: string, status: unknown = {}) => ({
  kind: 'Service',
  metadata: { namespace: 'default', name: 'web', resourceVersion: rv },
  spec: { clusterIP, ports: [{ port: 80 }] },
  status,
});
const nothingKnown = () => undefined;

describe('deciding what an observation becomes (given, when, then)', () => {
  it('given nothing known, when an object is seen, then it is applied (without its resourceVersion)', () => {
    const d = decideObservation(
      { type: 'seen', raw: raw('10.96.0.1', '5'), resourceVersion: '5' },
      nothingKnown,
    );
    expect(d.outcome).toBe('append');
    if (d.outcome !== 'append') return;
    expect(d.streamId).toBe('k8s/Service/default/web');
    expect(d.event.type).toBe('KubeObjectApplied');
    expect((d.event.data as { object: object }).object).not.toHaveProperty('resourceVersion');
  });

  it('given the same fields known, when only status or resourceVersion changed, then nothing is appended', () => {
    const known: KnownObject = {
      streamVersion: 1,
      digest: objectDigest(validateService(raw('10.96.0.1', '5'))),
    };
    const d = decideObservation(
      { type: 'seen', raw: raw('10.96.0.1', '9', { conditions: [{ type: 'X' }] }), resourceVersion: '9' },
      () => known,
    );
    expect(d).toEqual({ outcome: 'ignore', reason: 'unchanged' });
  });

  it('given a known object, when it is gone, then it is deleted; when it was never known, nothing', () => {
    const known: KnownObject = { streamVersion: 3, digest: 'x' };
    const gone = {
      type: 'gone' as const,
      kind: 'Service' as const,
      namespace: 'default',
      name: 'web',
      resourceVersion: '10',
      inferred: true,
    };
    expect(decideObservation(gone, () => known)).toMatchObject({
      outcome: 'append',
      event: { type: 'KubeObjectDeleted', data: { inferred: true } },
    });
    expect(decideObservation(gone, nothingKnown)).toEqual({ outcome: 'ignore', reason: 'not-known' });
    expect(decideObservation(gone, () => ({ streamVersion: 4, digest: null }))).toEqual({
      outcome: 'ignore',
      reason: 'not-known',
    });
  });

  it('when an object fails validation, then it is rejected with the field and reason, on the rejection stream', () => {
    const d = decideObservation(
      { type: 'seen', raw: raw('10.96.0.300', '5'), resourceVersion: '5' },
      nothingKnown,
    );
    expect(d).toMatchObject({
      outcome: 'reject',
      streamId: 'k8s-rejected/Service',
      event: {
        type: 'KubeObjectRejected',
        data: { kind: 'Service', namespace: 'default', name: 'web', field: 'spec.clusterIPs[0]' },
      },
    });
  });

  it('when an element is bad, then the object is applied without it, and the event says which and why', () => {
    const withBadIP = {
      ...raw('10.96.0.1', '5'),
      spec: { clusterIP: '10.96.0.1', ports: [{ port: 80 }], externalIPs: ['192.0.2.7', '192.0.2.999'] },
    };
    const d = decideObservation({ type: 'seen', raw: withBadIP, resourceVersion: '5' }, nothingKnown);
    expect(d).toMatchObject({
      outcome: 'append',
      event: {
        type: 'KubeObjectApplied',
        data: {
          object: { externalIPs: ['192.0.2.7'] },
          dropped: [{ field: 'spec.externalIPs[1]', reason: '"192.0.2.999" is not an IP address' }],
        },
      },
    });
    const clean = decideObservation(
      { type: 'seen', raw: raw('10.96.0.1', '5'), resourceVersion: '5' },
      nothingKnown,
    );
    expect(clean.outcome === 'append' && clean.event.data).not.toHaveProperty('dropped');
  });
});
