import {
  cidrContains,
  ipv4ToNumber,
  parseCidr,
  releaseMinor,
  type HostFacts,
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
  /** The node's primary IPv4 (for loadBalancerSourceRanges that contain the node). */
  readonly nodeIP: string | undefined;
  /** nodeIP as an unsigned 32-bit number. */
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

/** The node's primary IPv4: its first InternalIP, else its first ExternalIP. */
export function primaryNodeIP(node: Node | undefined): string | undefined {
  const v4 = (node?.addresses ?? []).filter((a) => !a.address.includes(':'));
  return (v4.find((a) => a.type === 'InternalIP') ?? v4.find((a) => a.type === 'ExternalIP'))?.address;
}

/** kube-proxy's NodePortAddresses for IPv4: match-all, or the CIDRs to pick host addresses from. */
function nodePortCidrs(config: ProxyConfig, nodeIP: string | undefined) {
  const cidrs = config.nodePortAddresses.flatMap((text) => {
    // kube-proxy's keywords (cmd/kube-proxy's expandNodePortAddressKeywords).
    if (text === 'primary') return nodeIP && !nodeIP.startsWith('127.') ? [parseCidr(`${nodeIP}/32`)!] : [];
    if (text === 'localhost') return [parseCidr('127.0.0.0/8')!];
    if (text === 'all') return [parseCidr('0.0.0.0/0')!];
    const cidr = parseCidr(text)!;
    return cidr.family === 'IPv4' ? [cidr] : [];
  });
  // No IPv4 CIDR at all (even when IPv6 ones were given) means 0.0.0.0/0: every local address.
  const matchAll = cidrs.length === 0 || cidrs.some((c) => c.prefix === 0);
  const containsLoopback =
    matchAll || cidrs.some((c) => cidrContains(c, LOOPBACK) || c.address.startsWith('127.'));
  return { cidrs, matchAll, containsLoopback };
}

function localDetectOf(config: ProxyConfig, node: Node | undefined): NodeProfile['localDetect'] {
  const by = (match: string) => ({ ifLocal: match, ifNotLocal: `! ${match}` });
  switch (config.detectLocalMode) {
    case 'BridgeInterface':
      return by(`-i ${config.bridgeInterface}`);
    case 'InterfaceNamePrefix':
      return by(`-i ${config.interfaceNamePrefix}+`);
    case 'NodeCIDR': {
      const cidr = node?.podCIDRs.find((c) => !c.includes(':'));
      return cidr ? by(`-s ${cidr}`) : null;
    }
    case 'ClusterCIDR': {
      const cidr = config.clusterCIDRs.find((c) => !c.includes(':'));
      return cidr ? by(`-s ${cidr}`) : null;
    }
  }
}

function compareIPv4(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 4; i++) if (pa[i] !== pb[i]) return pa[i]! - pb[i]!;
  return 0;
}

/** Computes the profile of `node` under `config`, given what its host reported (or defaults). */
export function nodeProfile(config: ProxyConfig, facts: HostFacts, node: Node | undefined): NodeProfile {
  const nodeIP = primaryNodeIP(node);
  const npa = nodePortCidrs(config, nodeIP);
  const localhostNodePorts = config.localhostNodePorts && npa.containsLoopback;

  let destinations: string[];
  if (npa.matchAll) {
    destinations = [`-m addrtype --dst-type LOCAL${localhostNodePorts ? '' : ' ! -d 127.0.0.0/8'}`];
  } else {
    const ips = new Set<string>();
    for (const address of facts.interfaceAddresses) {
      const ip = address.split('/')[0]!;
      if (ip.includes(':')) continue;
      if (npa.cidrs.some((c) => cidrContains(c, ip))) ips.add(ip);
    }
    // kube-proxy logs and skips loopback addresses when localhost NodePorts are off.
    destinations = [...ips]
      .filter((ip) => localhostNodePorts || !ip.startsWith('127.'))
      .sort(compareIPv4)
      .map((ip) => `-d ${ip}`);
  }

  const localDetect = localDetectOf(config, node);
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
    nodeIPNumber: nodeIP === undefined ? undefined : ipv4ToNumber(nodeIP),
    nodePortDestinations: destinations,
    zone: node?.labels[ZONE_LABEL] ?? '',
  };
  const serviceKey = [
    profile.masqueradeAll,
    localDetect?.ifLocal ?? '',
    profile.nfacctLocalhostNodePorts,
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
