import type { BuiltinJump, Chain, Rule, Table } from '../iptables/types';
import {
  KUBE_EXTERNAL_SERVICES,
  KUBE_FIREWALL,
  KUBE_FORWARD,
  KUBE_MARK_MASQ,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_PROXY_FIREWALL,
  KUBE_SERVICES,
} from './constants';
import { forEachFragment, type NodeProxyPlan } from './node-plan';

/** The kube-proxy part of a node's iptables state: its filter and nat chains and built-in jumps. */
export interface KubeProxyTables {
  readonly filter: Table;
  readonly nat: Table;
  readonly jumps: readonly BuiltinJump[];
}

/**
 * Lays a node plan out as tables, chains in kube-proxy's declaration order and each chain's rules
 * in the order kube-proxy appends them. Allocates the node's full rule lists: use it to render or
 * compare one node, not to hold every node in memory.
 */
export function kubeProxyTables(plan: NodeProxyPlan): KubeProxyTables {
  const { fixed } = plan;
  const filterServices: Rule[] = [];
  const filterExternal: Rule[] = [];
  const filterNodePorts: Rule[] = [];
  const filterProxyFirewall: Rule[] = [];
  const natServices: Rule[] = [];
  const natNodePorts: Rule[] = [];
  const serviceChains: Chain[] = [];
  forEachFragment(plan, (f) => {
    filterServices.push(...f.filterServices);
    filterExternal.push(...f.filterExternalServices);
    filterNodePorts.push(...f.filterNodePorts);
    filterProxyFirewall.push(...f.filterProxyFirewall);
    natServices.push(...f.natServices);
    natNodePorts.push(...f.natNodePorts);
    serviceChains.push(...f.natChains);
  });
  natServices.push(...fixed.natServicesTail);

  const filterRules: Record<string, readonly Rule[]> = {
    [KUBE_SERVICES]: filterServices,
    [KUBE_EXTERNAL_SERVICES]: filterExternal,
    [KUBE_FORWARD]: fixed.filterForward,
    [KUBE_NODEPORTS]: filterNodePorts,
    [KUBE_PROXY_FIREWALL]: filterProxyFirewall,
    [KUBE_FIREWALL]: fixed.filterFirewall,
  };
  const natRules: Record<string, readonly Rule[]> = {
    [KUBE_SERVICES]: natServices,
    [KUBE_NODEPORTS]: natNodePorts,
    [KUBE_POSTROUTING]: fixed.natPostrouting,
    [KUBE_MARK_MASQ]: fixed.natMarkMasq,
  };
  return {
    filter: {
      name: 'filter',
      chains: fixed.filterChainOrder.map((name) => ({ name, rules: filterRules[name] ?? [] })),
    },
    nat: {
      name: 'nat',
      chains: [
        ...fixed.natChainOrder.map((name) => ({ name, rules: natRules[name] ?? [] })),
        ...serviceChains,
      ],
    },
    jumps: fixed.builtinJumps,
  };
}
