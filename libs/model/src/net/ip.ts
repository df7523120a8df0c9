import ipaddr from 'ipaddr.js';

/** An IP family as Kubernetes names it. */
export type IpFamily = 'IPv4' | 'IPv6';

/**
 * Parses an IP address written the way Kubernetes accepts it and returns its canonical text
 * (IPv4 dotted quad without leading zeros, IPv6 RFC 5952), or undefined when it is not an IP.
 * Rendering always uses the canonical text, never the input, so no input can reach a command line.
 */
export function canonicalIp(text: string): string | undefined {
  if (typeof text !== 'string' || text.length === 0 || text.length > 45) return undefined;
  if (ipaddr.IPv4.isValidFourPartDecimal(text)) {
    // Kubernetes rejects leading zeros ("010.0.0.1" is ambiguous): so do we.
    if (text.split('.').some((part) => part.length > 1 && part.startsWith('0'))) return undefined;
    return ipaddr.IPv4.parse(text).toString();
  }
  if (text.includes(':') && ipaddr.IPv6.isValid(text) && !text.includes('%')) {
    return ipaddr.IPv6.parse(text).toRFC5952String();
  }
  return undefined;
}

/**
 * canonicalIp as Kubernetes' ParseIPSloppy reads it (k8s.io/utils/net): an IPv4 part with
 * leading zeros is decimal ("192.168.099.022" is 192.168.99.22). The apiserver has refused such
 * addresses in new objects since v1.30 but serves the ones stored before, and kube-proxy programs
 * them this way.
 */
export function canonicalIpSloppy(text: string): string | undefined {
  if (typeof text === 'string' && text.length <= 45 && /^\d+\.\d+\.\d+\.\d+$/.test(text)) {
    const parts = text.split('.').map((part) => Number.parseInt(part, 10));
    return parts.every((n) => n <= 255) ? parts.join('.') : undefined;
  }
  return canonicalIp(text);
}

/** parseCidr as ParseCIDRSloppy reads it: leading zeros in an IPv4 address are decimal. */
export function parseCidrSloppy(text: string): Cidr | undefined {
  if (typeof text !== 'string') return undefined;
  const slash = text.indexOf('/');
  const ip = slash < 0 ? undefined : canonicalIpSloppy(text.slice(0, slash).trim());
  return ip ? parseCidr(`${ip}${text.slice(slash)}`) : undefined;
}

/** The family of a canonical IP text. */
export function ipFamily(ip: string): IpFamily {
  return ip.includes(':') ? 'IPv6' : 'IPv4';
}

/** A CIDR in canonical form: the network address (host bits cleared) and the prefix length. */
export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: IpFamily;
}

/**
 * Parses "a.b.c.d/n" or an IPv6 CIDR. Host bits are cleared the way Go's net.ParseCIDR does
 * (kube-proxy renders the network, not the text it was given). Undefined when malformed.
 */
export function parseCidr(text: string): Cidr | undefined {
  if (typeof text !== 'string') return undefined;
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  if (slash < 0) return undefined;
  const ip = canonicalIp(trimmed.slice(0, slash));
  const prefixText = trimmed.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const family = ipFamily(ip);
  if (prefix > (family === 'IPv4' ? 32 : 128)) return undefined;
  const network =
    family === 'IPv4'
      ? ipaddr.IPv4.networkAddressFromCIDR(`${ip}/${prefix}`).toString()
      : ipaddr.IPv6.networkAddressFromCIDR(`${ip}/${prefix}`).toRFC5952String();
  return { address: network, prefix, family };
}

/** "address/prefix". */
export function formatCidr(cidr: Cidr): string {
  return `${cidr.address}/${cidr.prefix}`;
}

/** True when the canonical `ip` lies inside `cidr` (false across families). */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  if (ipFamily(ip) !== cidr.family) return false;
  const parsed = ipaddr.parse(ip);
  return parsed.match(ipaddr.parse(cidr.address), cidr.prefix);
}

/** IPv4 address as an unsigned 32-bit number, for ordering and arithmetic. */
export function ipv4ToNumber(ip: string): number {
  const [a, b, c, d] = ip.split('.').map(Number) as [number, number, number, number];
  return ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;
}
