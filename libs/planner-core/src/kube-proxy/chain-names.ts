import { hash } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** The first 16 characters of RFC 4648 base32 (standard alphabet) of `bytes`. */
function base32Prefix16(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 16) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    if (out.length === 16) break;
    buffer &= (1 << bits) - 1;
  }
  return out;
}

/** kube-proxy's portProtoHash: base32(sha256(name + protocol))[:16], protocol lower-case. */
function hash16(text: string): string {
  // The one-shot hash: a Hash object per name cost more than the digest itself.
  return base32Prefix16(hash('sha256', text, 'buffer'));
}

/** The chains kube-proxy derives from a service port's name string ("ns/svc:port") and protocol. */
export interface ServiceChainNames {
  /** KUBE-SVC-: Cluster traffic policy endpoints. */
  readonly svc: string;
  /** KUBE-SVL-: Local traffic policy endpoints. */
  readonly svl: string;
  /** KUBE-EXT-: external destinations (NodePort, LB, externalIPs). */
  readonly ext: string;
  /** KUBE-FW-: loadBalancerSourceRanges. */
  readonly fw: string;
}

export function serviceChainNames(portName: string, protocol: string): ServiceChainNames {
  const h = hash16(portName + protocol);
  return { svc: `KUBE-SVC-${h}`, svl: `KUBE-SVL-${h}`, ext: `KUBE-EXT-${h}`, fw: `KUBE-FW-${h}` };
}

/** KUBE-SEP- chain of one endpoint ("ip:port") of a service port. */
export function endpointChainName(portName: string, protocol: string, endpoint: string): string {
  return `KUBE-SEP-${hash16(portName + protocol + endpoint)}`;
}
