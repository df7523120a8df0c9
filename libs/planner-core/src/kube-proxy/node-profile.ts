import {
  cidrContains,
  ipFamily,
  ipv4ToNumber,
  parseCidr,
  releaseMinor,
  type HostFacts,
  type IpFamily,
  type Node,
  type ProxyConfig,
} from '@netledger/model';
import { NFACCT_CT_STATE_INVALID_DROPPED, NFACCT_LOCALHOST_NODEPORTS_ACCEPTED } from './constants';

/**
 * Everything about one node that changes the rules kube-proxy writes there, beside the
 * cluster's objects. Nodes with equal `serviceKey` share every service's default rules; nodes
 * with equal `fixedKey` share the fixed chains too.
 */
export interface NodeProfile {
  /** The masquerade mark as iptables-save prints it ("0x4000"). */
  readonly mark: string;
  readonly masqueradeAll: boolean;
  /**
   * kube-proxy's LocalTrafficDetector: `-s <pod CIDR>` / `! -s <pod CIDR>` (ClusterCIDR, NodeCIDR),
   * `-i <bridge>` (BridgeInterface), `-i <prefix>+` (InterfaceNamePrefix), or null when local
   * traffic cannot be told apart.
   */
  readonly localDetect: { readonly ifLocal: string; readonly ifNotLocal: string } | null;
  /** NodePorts answer on 127.0.0.0/8 (localhostNodePorts, and nodePortAddresses cover loopback). */
  readonly localhostNodePorts: boolean;
  readonly nfacctLocalhostNodePorts: boolean;
  readonly nfacctInvalidDropped: boolean;
  readonly randomFully: boolean;
  readonly conntrackTcpBeLiberal: boolean;
  /** The node's primary IP of the family (for loadBalancerSourceRanges that contain the node). */
  readonly nodeIP: string | undefined;
  /** nodeIP as an unsigned 32-bit number (IPv4 only). */
  readonly nodeIPNumber: number | undefined;
  /** The Node's topology.kubernetes.io/zone label ('' when none): topology hints read it. */
  readonly zone: string;
  /** Destination matches of the KUBE-SERVICES → KUBE-NODEPORTS tail rule(s), one rule each. */
  readonly nodePortDestinations: readonly string[];
  readonly serviceKey: string;
  readonly fixedKey: string;
}

const LOOPBACK = '127.0.0.1';
const ZONE_LABEL = 'topology.kubernetes.io/zone';

/** The node's primary IP of `family`: its first InternalIP, else its first ExternalIP. */
export function primaryNodeIP(node: Node | undefined, family: IpFamily = 'IPv4'): string | undefined {
  const of = (node?.addresses ?? []).filter((a) => ipFamily(a.address) === family);
  return (of.find((a) => a.type === 'InternalIP') ?? of.find((a) => a.type === 'ExternalIP'))?.address;
}

const isLoopback = (ip: string) => ip.startsWith('127.') || ip === '::1';

/**
 * kube-proxy's NodePortAddresses for one family: match-all, or the CIDRs to pick host addresses
 * from. Localhost NodePorts exist only for IPv4 (ContainsIPv4Loopback).
 */
function nodePortCidrs(config: ProxyConfig, nodeIP: string | undefined, family: IpFamily) {
  const v6 = family === 'IPv6';
  const cidrs = config.nodePortAddresses.flatMap((text) => {
    // kube-proxy's keywords (cmd/kube-proxy's expandNodePortAddressKeywords).
    if (text === 'primary')
      return nodeIP && !isLoopback(nodeIP) ? [parseCidr(`${nodeIP}/${v6 ? 128 : 32}`)!] : [];
    if (text === 'localhost') return [parseCidr(v6 ? '::1/128' : '127.0.0.0/8')!];
    if (text === 'all') return [parseCidr(v6 ? '::/0' : '0.0.0.0/0')!];
    const cidr = parseCidr(text)!;
    return cidr.family === family ? [cidr] : [];
  });
  // No CIDR of the family at all (even when the other's were given) means every local address.
  const matchAll = cidrs.length === 0 || cidrs.some((c) => c.prefix === 0);
  const containsLoopback =
    !v6 && (matchAll || cidrs.some((c) => cidrContains(c, LOOPBACK) || c.address.startsWith('127.')));
  return { cidrs, matchAll, containsLoopback };
}

function localDetectOf(
  config: ProxyConfig,
  node: Node | undefined,
  family: IpFamily,
): NodeProfile['localDetect'] {
  const ofFamily = (cidr: string) => ipFamily(cidr.split('/')[0]!) === family;
  const by = (match: string) => ({ ifLocal: match, ifNotLocal: `! ${match}` });
  switch (config.detectLocalMode) {
    case 'BridgeInterface':
      return by(`-i ${config.bridgeInterface}`);
    case 'InterfaceNamePrefix':
      return by(`-i ${config.interfaceNamePrefix}+`);
    case 'NodeCIDR': {
      const cidr = node?.podCIDRs.find(ofFamily);
      return cidr ? by(`-s ${cidr}`) : null;
    }
    case 'ClusterCIDR': {
      const cidr = config.clusterCIDRs.find(ofFamily);
      return cidr ? by(`-s ${cidr}`) : null;
    }
  }
}

function compareIPs(a: string, b: string): number {
  if (a.includes(':') || b.includes(':')) return a < b ? -1 : a > b ? 1 : 0;
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}

/**
 * Computes the profile of `node` under `config` for the proxier of `family`, given what its host
 * reported (or defaults).
 */
export function nodeProfile(
  config: ProxyConfig,
  facts: HostFacts,
  node: Node | undefined,
  family: IpFamily = 'IPv4',
): NodeProfile {
  const nodeIP = primaryNodeIP(node, family);
  const npa = nodePortCidrs(config, nodeIP, family);
  const localhostNodePorts = config.localhostNodePorts && npa.containsLoopback;

  let destinations: string[];
  if (npa.matchAll) {
    // Localhost NodePorts never work for IPv6, and for IPv4 only with route_localnet.
    const notLocalhost = family === 'IPv6' ? ' ! -d ::1/128' : localhostNodePorts ? '' : ' ! -d 127.0.0.0/8';
    destinations = [`-m addrtype --dst-type LOCAL${notLocalhost}`];
  } else {
    const ips = new Set<string>();
    for (const address of facts.interfaceAddresses) {
      const ip = address.split('/')[0]!;
      if (ipFamily(ip) !== family) continue;
      if (npa.cidrs.some((c) => cidrContains(c, ip))) ips.add(ip);
    }
    // kube-proxy logs and skips loopback addresses when localhost NodePorts are off.
    destinations = [...ips]
      .filter((ip) => localhostNodePorts || !isLoopback(ip))
      .sort(compareIPs)
      .map((ip) => `-d ${ip}`);
  }

  const localDetect = localDetectOf(config, node, family);
  const nfacct = new Set(facts.nfacctCounters);
  const profile = {
    mark: `0x${(2 ** config.masqueradeBit).toString(16)}`,
    masqueradeAll: config.masqueradeAll,
    localDetect,
    localhostNodePorts,
    nfacctLocalhostNodePorts: localhostNodePorts && nfacct.has(NFACCT_LOCALHOST_NODEPORTS_ACCEPTED),
    nfacctInvalidDropped: nfacct.has(NFACCT_CT_STATE_INVALID_DROPPED),
    // v1.37 writes --random-fully whatever the host's iptables says; before, only where it has it.
    randomFully: releaseMinor(config.release) >= 37 || facts.randomFully,
    conntrackTcpBeLiberal: config.conntrackTcpBeLiberal || facts.conntrackTcpBeLiberal,
    nodeIP,
    nodeIPNumber: nodeIP === undefined || family === 'IPv6' ? undefined : ipv4ToNumber(nodeIP),
    nodePortDestinations: destinations,
    zone: node?.labels[ZONE_LABEL] ?? '',
  };
  const serviceKey = [
    profile.masqueradeAll,
    localDetect?.ifLocal ?? '',
    profile.nfacctLocalhostNodePorts,
    // Zone hints make a zone's nodes share what other zones' do not (no key change without zones).
    ...(profile.zone ? [profile.zone] : []),
  ].join('|');
  const fixedKey = [
    serviceKey,
    profile.mark,
    localhostNodePorts,
    profile.nfacctInvalidDropped,
    profile.randomFully,
    profile.conntrackTcpBeLiberal,
    destinations.join(','),
  ].join('|');
  return { ...profile, serviceKey, fixedKey };
}
