import { NetledgerError } from '../errors/netledger-error';
import { formatCidr, parseCidr } from '../net/ip';

/**
 * flannel's net-conf.json for the vxlan backend, validated, plus the flanneld flags that change
 * what it programs (the kube-flannel manifest runs with --ip-masq; forward rules are on by default).
 */
export interface OverlayConfig {
  /** The cluster pod network ("Network"), canonical CIDR. */
  readonly network: string;
  /** The IPv6 pod network ("IPv6Network", with "EnableIPv6"): the flannel-v6 overlay; absent without it. */
  readonly ipv6Network?: string;
  readonly vni: number;
  /** UDP port; flannel leaves 0 to the kernel, whose default is 8472. */
  readonly port: number;
  /** Overrides the underlay MTU the device's MTU is derived from. */
  readonly mtu: number | null;
  readonly gbp: boolean;
  readonly directRouting: boolean;
  /** flanneld --ip-masq: write FLANNEL-POSTRTG. */
  readonly ipMasq: boolean;
  /** flanneld --iptables-forward-rules: write FLANNEL-FWD. */
  readonly forwardRules: boolean;
}

export const DEFAULT_OVERLAY_CONFIG: OverlayConfig = {
  network: '10.244.0.0/16',
  vni: 1,
  port: 8472,
  mtu: null,
  gbp: false,
  directRouting: false,
  ipMasq: true,
  forwardRules: true,
};

function bad(field: string, reason: string): never {
  throw new NetledgerError('INPUT.INVALID_NET_CONF', `net-conf.json: ${field}: ${reason}`, {
    details: { field, reason },
  });
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Looks a key up the way Go's encoding/json does: case-insensitively. */
function field(record: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : record[key];
}

/** Reads flannel's net-conf.json (as parsed JSON). Only the vxlan backend is supported. */
export function parseNetConf(
  raw: unknown,
  flags: { ipMasq?: boolean; forwardRules?: boolean } = {},
): OverlayConfig {
  if (!isRecord(raw)) bad('(document)', 'not an object');
  if (field(raw, 'EnableIPv4') === false)
    bad('EnableIPv4', 'an IPv6-only overlay is not supported yet (dual-stack is: EnableIPv6 with IPv4 on)');
  const networkText = field(raw, 'Network');
  if (typeof networkText !== 'string') bad('Network', 'required, a CIDR');
  const network = parseCidr(networkText);
  if (!network || network.family !== 'IPv4')
    bad('Network', `${JSON.stringify(networkText)} is not an IPv4 CIDR`);
  let ipv6Network: string | undefined;
  const enableIPv6 = field(raw, 'EnableIPv6');
  if (enableIPv6 !== undefined && enableIPv6 !== null && typeof enableIPv6 !== 'boolean')
    bad('EnableIPv6', 'must be true or false');
  if (enableIPv6 === true) {
    const text = field(raw, 'IPv6Network');
    if (typeof text !== 'string') bad('IPv6Network', 'required with EnableIPv6, an IPv6 CIDR');
    const cidr = parseCidr(text);
    if (!cidr || cidr.family !== 'IPv6') bad('IPv6Network', `${JSON.stringify(text)} is not an IPv6 CIDR`);
    ipv6Network = formatCidr(cidr);
  }
  const backend = field(raw, 'Backend');
  if (!isRecord(backend)) bad('Backend', 'required, an object with Type "vxlan"');
  const type = field(backend, 'Type');
  if (typeof type !== 'string' || type.toLowerCase() !== 'vxlan')
    bad('Backend.Type', `${JSON.stringify(type)} is not supported (vxlan)`);
  const int = (name: string, fallback: number, min: number, max: number) => {
    const v = field(backend, name);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      bad(`Backend.${name}`, `must be an integer ${min}..${max}`);
    return v;
  };
  const bool = (name: string) => {
    const v = field(backend, name);
    if (v === undefined || v === null) return false;
    if (typeof v !== 'boolean') bad(`Backend.${name}`, 'must be true or false');
    return v;
  };
  if (bool('Learning')) bad('Backend.Learning', 'learning VXLAN devices are not supported');
  const port = int('Port', 0, 0, 65535);
  const mtu = int('MTU', 0, 0, 65535);
  if (mtu !== 0 && mtu < 1330) bad('Backend.MTU', 'too small for a VXLAN overlay (at least 1330)');
  return {
    network: formatCidr(network),
    ...(ipv6Network !== undefined ? { ipv6Network } : {}),
    vni: int('VNI', 1, 0, 16_777_215),
    port: port === 0 ? 8472 : port,
    mtu: mtu === 0 ? null : mtu,
    gbp: bool('GBP'),
    directRouting: bool('DirectRouting'),
    ipMasq: flags.ipMasq ?? true,
    forwardRules: flags.forwardRules ?? true,
  };
}
