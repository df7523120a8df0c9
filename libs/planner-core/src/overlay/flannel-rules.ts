import {
  familyField,
  type ChainEntry,
  type IpFamily,
  type JumpEntry,
  type OverlayConfig,
} from '@netledger/model';

/** flannel marks nothing itself; it returns what kube-proxy marked, to avoid double NAT. */
const KUBE_PROXY_MARK = '0x4000/0x4000';

/**
 * flannel's iptables rules for the pod network of one family (pkg/trafficmngr/iptables masqRules,
 * masqIP6Rules, forwardRules): FLANNEL-POSTRTG in nat (with --ip-masq) and FLANNEL-FWD in filter
 * (with --iptables-forward-rules), each reached by a jump appended to the built-in chain. IPv6's
 * are the same over the IPv6 network, multicast being ff00::/8, in ip6tables.
 */
export function flannelRules(
  config: OverlayConfig,
  podSubnet: string,
  randomFully: boolean,
  family: IpFamily = 'IPv4',
): { chains: ChainEntry[]; jumps: JumpEntry[] } {
  const chains: ChainEntry[] = [];
  const jumps: JumpEntry[] = [];
  const v6 = family === 'IPv6';
  const network = v6 ? config.ipv6Network! : config.network;
  const multicast = v6 ? 'ff00::/8' : '224.0.0.0/4';
  const tagged = familyField(family);
  if (config.ipMasq) {
    const masq = '-m comment --comment "flanneld masq"';
    const masquerade = `-j MASQUERADE${randomFully ? ' --random-fully' : ''}`;
    chains.push({
      ...tagged,
      table: 'nat',
      chain: 'FLANNEL-POSTRTG',
      rules: [
        `-m mark --mark ${KUBE_PROXY_MARK} ${masq} -j RETURN`,
        `-s ${podSubnet} -d ${network} ${masq} -j RETURN`,
        `-s ${network} -d ${podSubnet} ${masq} -j RETURN`,
        `! -s ${network} -d ${podSubnet} ${masq} -j RETURN`,
        `-s ${network} ! -d ${multicast} ${masq} ${masquerade}`,
        `! -s ${network} -d ${network} ${masq} ${masquerade}`,
      ],
    });
    jumps.push({
      ...tagged,
      table: 'nat',
      chain: 'POSTROUTING',
      rule: `${masq} -j FLANNEL-POSTRTG`,
      position: 'append',
    });
  }
  if (config.forwardRules) {
    const fwd = '-m comment --comment "flanneld forward"';
    chains.push({
      ...tagged,
      table: 'filter',
      chain: 'FLANNEL-FWD',
      rules: [`-s ${network} ${fwd} -j ACCEPT`, `-d ${network} ${fwd} -j ACCEPT`],
    });
    jumps.push({
      ...tagged,
      table: 'filter',
      chain: 'FORWARD',
      rule: `${fwd} -j FLANNEL-FWD`,
      position: 'append',
    });
  }
  return { chains, jumps };
}
