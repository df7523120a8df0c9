import type { BuiltinJump, Rule } from '../iptables/types';
import {
  KUBE_EXTERNAL_SERVICES,
  KUBE_FIREWALL,
  KUBE_FORWARD,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
  NFACCT_CT_STATE_INVALID_DROPPED,
  NODEPORTS_TAIL_COMMENT,
} from './constants';
import type { NodeProfile } from './node-profile';

/** The rules of kube-proxy's own top-level chains that do not come from any Service. */
export interface FixedRules {
  /** Filter chains kube-proxy declares, in its order (KUBE-FIREWALL only with localhost NodePorts). */
  readonly filterChainOrder: readonly string[];
  readonly natChainOrder: readonly string[];
  readonly filterFirewall: readonly Rule[];
  readonly filterForward: readonly Rule[];
  readonly natPostrouting: readonly Rule[];
  readonly natMarkMasq: readonly Rule[];
  /** The last rules of nat KUBE-SERVICES: hand everything local to KUBE-NODEPORTS. */
  readonly natServicesTail: readonly Rule[];
  /** Jumps from the built-in chains, in the order they end up in each built-in chain. */
  readonly builtinJumps: readonly BuiltinJump[];
}

/**
 * kube-proxy's iptablesJumpChains and iptablesKubeletJumpChains, in its order. Each is prepended
 * (`iptables -I <chain> 1`) when missing, so in a built-in chain they end up in reverse order.
 */
function jumpList(profile: NodeProfile): BuiltinJump[] {
  const newOnly = '-m conntrack --ctstate NEW ';
  const jump = (
    table: 'filter' | 'nat',
    chain: string,
    target: string,
    comment: string,
    extra = '',
  ): BuiltinJump => ({
    table,
    chain,
    rule: `${extra}${comment ? `-m comment --comment ${comment} ` : ''}-j ${target}`,
  });
  const list = [
    jump(
      'filter',
      'INPUT',
      KUBE_EXTERNAL_SERVICES,
      '"kubernetes externally-visible service portals"',
      newOnly,
    ),
    jump(
      'filter',
      'FORWARD',
      KUBE_EXTERNAL_SERVICES,
      '"kubernetes externally-visible service portals"',
      newOnly,
    ),
    jump('filter', 'INPUT', KUBE_NODEPORTS, '"kubernetes health check service ports"'),
    jump('filter', 'FORWARD', KUBE_SERVICES, '"kubernetes service portals"', newOnly),
    jump('filter', 'OUTPUT', KUBE_SERVICES, '"kubernetes service portals"', newOnly),
    jump('filter', 'FORWARD', KUBE_FORWARD, '"kubernetes forwarding rules"'),
    jump('filter', 'INPUT', KUBE_PROXY_FIREWALL, '"kubernetes load balancer firewall"', newOnly),
    jump('filter', 'OUTPUT', KUBE_PROXY_FIREWALL, '"kubernetes load balancer firewall"', newOnly),
    jump('filter', 'FORWARD', KUBE_PROXY_FIREWALL, '"kubernetes load balancer firewall"', newOnly),
    jump('nat', 'OUTPUT', KUBE_SERVICES, '"kubernetes service portals"'),
    jump('nat', 'PREROUTING', KUBE_SERVICES, '"kubernetes service portals"'),
    jump('nat', 'POSTROUTING', KUBE_POSTROUTING, '"kubernetes postrouting rules"'),
  ];
  if (profile.localhostNodePorts) {
    list.push(jump('filter', 'INPUT', KUBE_FIREWALL, ''), jump('filter', 'OUTPUT', KUBE_FIREWALL, ''));
  }
  return list;
}

/** The fixed rules of a node with `profile`. */
export function fixedRules(profile: NodeProfile): FixedRules {
  const mark = profile.mark;
  const filterForward: Rule[] = [];
  if (!profile.conntrackTcpBeLiberal) {
    // INVALID packets would otherwise reset connections (kubernetes/kubernetes#74839).
    const counter = profile.nfacctInvalidDropped
      ? ` -m nfacct --nfacct-name ${NFACCT_CT_STATE_INVALID_DROPPED}`
      : '';
    filterForward.push(`-m conntrack --ctstate INVALID${counter} -j DROP`);
  }
  filterForward.push(
    `-m comment --comment "kubernetes forwarding rules" -m mark --mark ${mark}/${mark} -j ACCEPT`,
    `-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
  );
  // Reversed: each jump is prepended, so the last prepended stands first.
  const jumps = jumpList(profile).reverse();
  return {
    filterChainOrder: [
      KUBE_SERVICES,
      KUBE_EXTERNAL_SERVICES,
      KUBE_FORWARD,
      KUBE_NODEPORTS,
      KUBE_PROXY_FIREWALL,
      ...(profile.localhostNodePorts ? [KUBE_FIREWALL] : []),
    ],
    natChainOrder: [KUBE_SERVICES, KUBE_NODEPORTS, KUBE_POSTROUTING, KUBE_MARK_MASQ],
    filterFirewall: profile.localhostNodePorts
      ? [
          '-m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 ! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
        ]
      : [],
    filterForward,
    natPostrouting: [
      `-m mark ! --mark ${mark}/${mark} -j RETURN`,
      // Clear the mark so a packet that traverses the stack again is not masqueraded twice.
      `-j MARK --xor-mark ${mark}`,
      `-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE${profile.randomFully ? ' --random-fully' : ''}`,
    ],
    natMarkMasq: [`-j MARK --or-mark ${mark}`],
    natServicesTail: profile.nodePortDestinations.map(
      (dst) => `-m comment --comment ${NODEPORTS_TAIL_COMMENT} ${dst} -j ${KUBE_NODEPORTS}`,
    ),
    builtinJumps: jumps,
  };
}
