import { parseCidr, type Cidr, type HostFacts, type Node, type OverlayLease } from '@netledger/model';
import { primaryNodeIP } from '../kube-proxy/node-profile';
import { derivedVtepMac } from './vtep-mac';

const PUBLIC_IP_OVERWRITE = 'flannel.alpha.coreos.com/public-ip-overwrite';

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
export function overlayNodeOf(node: Node, facts: HostFacts | undefined): OverlayNode | undefined {
  const subnetText = node.podCIDRs.find((c) => !c.includes(':'));
  const publicIp = node.flannelPublicIp ?? primaryNodeIP(node);
  if (!subnetText || !publicIp) return undefined;
  // flannel (v0.28, pkg/backend/vxlan) gives its device the node's own address (ExtAddr: --public-ip
  // or the interface's), and writes an overwrite only into the public-ip peers use.
  const ownIp = primaryNodeIP(node);
  const overwritten = node.annotations[PUBLIC_IP_OVERWRITE] !== undefined;
  const deviceIp = overwritten && ownIp !== undefined && ownIp !== publicIp ? ownIp : undefined;
  // DirectRouting asks the host's routes: the subnet of the interface the device sends from.
  let underlaySubnet: Cidr | undefined;
  for (const address of facts?.interfaceAddresses ?? []) {
    const [ip, prefix] = address.split('/');
    if (ip !== (deviceIp ?? publicIp)) continue;
    const cidr = parseCidr(`${ip}/${prefix}`);
    if (cidr && cidr.prefix < 32) underlaySubnet = cidr;
  }
  return {
    name: node.name,
    subnet: parseCidr(subnetText)!,
    publicIp,
    ...(deviceIp !== undefined ? { deviceIp } : {}),
    vtepMac: node.flannelVtepMac ?? derivedVtepMac(node.name),
    underlayMtu: facts?.underlayMtu ?? 1500,
    underlaySubnet,
  };
}
