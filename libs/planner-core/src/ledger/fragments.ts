import { fragmentDigest, type Digest, type FragmentKind } from '@netledger/model';
import type { FixedRules } from '../kube-proxy/fixed-rules';
import type { ServiceFragment } from '../kube-proxy/service-fragment';
import type { PeerEntries } from '../overlay/overlay-planner';

/** A fragment's value as planner-core uses it, by kind. */
export interface FragmentValues {
  service: ServiceFragment;
  fixed: FixedRules;
  peer: PeerEntries;
}

export type FragmentValue = FragmentValues[FragmentKind];

/** A fragment ready to store or send: its digest, kind, value and the JSON the digest was taken of. */
export interface EncodedFragment<K extends FragmentKind = FragmentKind> {
  readonly digest: Digest;
  readonly kind: K;
  readonly value: FragmentValues[K];
  readonly json: string;
}

/** Where a fragment object keeps its encoding (a symbol: JSON.stringify and spreads skip it). */
const ENCODED = Symbol('netledger.encoded');

type Encodable = object & { [ENCODED]?: EncodedFragment };

/**
 * Digests fragments once per object: the planner shares fragment objects between nodes and
 * batches, so a fragment is encoded when it is first met, not on every batch that names it.
 *
 * The encoding is kept on the object itself, not in a WeakMap: with one entry per fragment
 * (30,000 at 10,000 services) V8 marks a WeakMap's entries in the atomic pause of every full GC,
 * and under churn that pause was 300 ms of a 411 ms stop (mark.ephemeron.marking).
 */
export class FragmentEncoder {
  encode<K extends FragmentKind>(kind: K, value: FragmentValues[K]): EncodedFragment<K> {
    const holder = value as Encodable;
    let fragment = holder[ENCODED] as EncodedFragment<K> | undefined;
    if (!fragment || fragment.kind !== kind) {
      const json = JSON.stringify(value);
      fragment = { digest: fragmentDigest(kind, json), kind, value, json };
      Object.defineProperty(holder, ENCODED, { value: fragment, configurable: true, writable: true });
    }
    return fragment;
  }
}
