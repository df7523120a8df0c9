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

/**
 * Digests fragments once per object: the planner shares fragment objects between nodes and
 * batches, so a fragment is encoded when it is first met, not on every batch that names it.
 */
export class FragmentEncoder {
  private readonly encoded = new WeakMap<object, EncodedFragment>();

  encode<K extends FragmentKind>(kind: K, value: FragmentValues[K]): EncodedFragment<K> {
    let fragment = this.encoded.get(value) as EncodedFragment<K> | undefined;
    if (!fragment || fragment.kind !== kind) {
      const json = JSON.stringify(value);
      fragment = { digest: fragmentDigest(kind, json), kind, value, json };
      this.encoded.set(value, fragment);
    }
    return fragment;
  }
}
