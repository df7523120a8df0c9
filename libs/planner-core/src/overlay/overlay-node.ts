import {
  parseCidr,
  type Cidr,
  type HostFacts,
  type Node,
  type OverlayLease,
  type OverlayLease6,
} from '@netledger/model';
import { primaryNodeIP } from '../kube-proxy/node-profile';
import { derivedVtepMac } from './vtep-mac';

const PUBLIC_IP_OVERWRITE = 'flannel.alpha.coreos.com/public-ip-overwrite';
const PUBLIC_IPV6_OVERWRITE = 'flannel.alpha.coreos.com/public-ipv6-overwrite';

/**
 * What the overlay needs of one node: flannel's lease, in effect (its IPv4 pod subnet, the
 * underlay address VXLAN packets for it go to, its VTEP MAC, underlay MTU and, when the host
 * reported it, the underlay subnet its public IP sits in, for DirectRouting).
 */
export type OverlayNode = OverlayLease;

/**
 * The overlay view of a node: its pod subnet from spec.podCIDRs, its public IP (where peers send)
 * from flannel's public-ip(-overwrite) annotation or else its first InternalIP, the address its
 * own device sends from when an overwrite makes it differ, its VTEP MAC from flannel's
 * backend-data annotation or else derived from its name. Undefined when the node has no IPv4 pod
 * subnet or no address (flannel would hold no lease for it).
 */
export function overlayNodeOf(
  node: Node,
  facts: HostFacts | undefined,
  ipv6Overlay = false,
): OverlayNode | undefined {
  const subnetText = node.podCIDRs.find((c) => !c.includes(':'));
  const publicIp = node.flannelPublicIp ?? primaryNodeIP(node);
  if (!subnetText || !publicIp) return undefined;
  // flannel (v0.28, pkg/backend/vxlan) gives its device the node's own address (ExtAddr: --public-ip
  // or the interface's), and writes an overwrite only into the public-ip peers use.
  const ownIp = primaryNodeIP(node);
  const overwritten = node.annotations[PUBLIC_IP_OVERWRITE] !== undefined;
  const deviceIp = overwritten && ownIp !== undefined && ownIp !== publicIp ? ownIp : undefined;
  const ipv6 = ipv6Overlay ? overlayLease6Of(node, facts) : undefined;
  return {
    name: node.name,
    subnet: parseCidr(subnetText)!,
    publicIp,
    ...(deviceIp !== undefined ? { deviceIp } : {}),
    vtepMac: node.flannelVtepMac ?? derivedVtepMac(node.name),
    underlayMtu: facts?.underlayMtu ?? 1500,
    underlaySubnet: underlaySubnetOf(facts, deviceIp ?? publicIp),
    ...(ipv6 ? { ipv6 } : {}),
  };
}

/**
 * The node's IPv6 lease on a dual-stack overlay, as flannel's kube subnet manager keeps it: its
 * IPv6 pod subnet, public IPv6 (public-ipv6(-overwrite), else its first IPv6 InternalIP) and the
 * VTEP MAC of its flannel-v6 device (backend-v6-data, else derived). Undefined without a subnet
 * or an address (flannel would give it no IPv6 lease: its IPv4 overlay goes on alone).
 */
function overlayLease6Of(node: Node, facts: HostFacts | undefined): OverlayLease6 | undefined {
  const subnetText = node.podCIDRs.find((c) => c.includes(':'));
  const ownIp = primaryNodeIP(node, 'IPv6');
  const publicIp = node.flannelPublicIpv6 ?? ownIp;
  if (!subnetText || !publicIp) return undefined;
  const overwritten = node.annotations[PUBLIC_IPV6_OVERWRITE] !== undefined;
  const deviceIp = overwritten && ownIp !== undefined && ownIp !== publicIp ? ownIp : undefined;
  const underlaySubnet = underlaySubnetOf(facts, deviceIp ?? publicIp);
  return {
    subnet: parseCidr(subnetText)!,
    publicIp,
    vtepMac: node.flannelV6VtepMac ?? derivedVtepMac(node.name, 'flannel-v6'),
    ...(underlaySubnet ? { underlaySubnet } : {}),
    ...(deviceIp !== undefined ? { deviceIp } : {}),
  };
}

/** DirectRouting asks the host's routes: the subnet of the interface the device sends from. */
function underlaySubnetOf(facts: HostFacts | undefined, ip: string): Cidr | undefined {
  let underlaySubnet: Cidr | undefined;
  for (const address of facts?.interfaceAddresses ?? []) {
    const [addr, prefix] = address.split('/');
    if (addr !== ip) continue;
    const cidr = parseCidr(`${addr}/${prefix}`);
    if (cidr && cidr.prefix < (cidr.family === 'IPv6' ? 128 : 32)) underlaySubnet = cidr;
  }
  return underlaySubnet;
}
