import { createHash } from 'node:crypto';

/**
 * A VTEP MAC for a node flannel has not annotated yet, derived from its name so that the control
 * plane can assign it and the executor create the device with it: six bytes of sha256(name),
 * with the locally-administered bit set and the multicast bit cleared, as flannel's random
 * MACs are.
 */
export function derivedVtepMac(nodeName: string, device: 'flannel' | 'flannel-v6' = 'flannel'): string {
  // The flannel-v6 device gets its own MAC, as flannel's random ones differ per device.
  const seed = device === 'flannel' ? `netledger-vtep/${nodeName}` : `netledger-vtep-v6/${nodeName}`;
  const bytes = createHash('sha256').update(seed).digest().subarray(0, 6);
  bytes[0] = (bytes[0]! & 0xfe) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
