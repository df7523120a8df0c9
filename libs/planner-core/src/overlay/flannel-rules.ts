import type { ChainEntry, JumpEntry, OverlayConfig } from '@netledger/model';

/** flannel marks nothing itself; it returns what kube-proxy marked, to avoid double NAT. */
const KUBE_PROXY_MARK = '0x4000/0x4000';

/**
 * flannel's iptables rules for the pod network (pkg/trafficmngr/iptables): FLANNEL-POSTRTG in nat
 * (with --ip-masq) and FLANNEL-FWD in filter (with --iptables-forward-rules), each reached by a
 * jump appended to the built-in chain.
 */
export function flannelRules(
  config: OverlayConfig,
  podSubnet: string,
  randomFully: boolean,
): { chains: ChainEntry[]; jumps: JumpEntry[] } {
  const chains: ChainEntry[] = [];
  const jumps: JumpEntry[] = [];
  const network = config.network;
  if (config.ipMasq) {
    const masq = '-m comment --comment "flanneld masq"';
    const masquerade = `-j MASQUERADE${randomFully ? ' --random-fully' : ''}`;
    chains.push({
      table: 'nat',
      chain: 'FLANNEL-POSTRTG',
      rules: [
        `-m mark --mark ${KUBE_PROXY_MARK} ${masq} -j RETURN`,
        `-s ${podSubnet} -d ${network} ${masq} -j RETURN`,
        `-s ${network} -d ${podSubnet} ${masq} -j RETURN`,
        `! -s ${network} -d ${podSubnet} ${masq} -j RETURN`,
        `-s ${network} ! -d 224.0.0.0/4 ${masq} ${masquerade}`,
        `! -s ${network} -d ${network} ${masq} ${masquerade}`,
      ],
    });
    jumps.push({
      table: 'nat',
      chain: 'POSTROUTING',
      rule: `${masq} -j FLANNEL-POSTRTG`,
      position: 'append',
    });
  }
  if (config.forwardRules) {
    const fwd = '-m comment --comment "flanneld forward"';
    chains.push({
      table: 'filter',
      chain: 'FLANNEL-FWD',
      rules: [`-s ${network} ${fwd} -j ACCEPT`, `-d ${network} ${fwd} -j ACCEPT`],
    });
    jumps.push({ table: 'filter', chain: 'FORWARD', rule: `${fwd} -j FLANNEL-FWD`, position: 'append' });
  }
  return { chains, jumps };
}
