import type { Chain, Rule } from '../iptables/types';
import type { CategorizedEndpoints } from './categorize';
import { endpointChainName } from './chain-names';
import { KUBE_MARK_MASQ, KUBE_PROXY_FIREWALL, NFACCT_LOCALHOST_NODEPORTS_ACCEPTED } from './constants';
import type { EndpointInfo } from './endpoints';
import type { NodeProfile } from './node-profile';
import {
  externallyAccessible,
  usesClusterEndpoints,
  usesLocalEndpoints,
  type ServicePortInfo,
} from './service-port';

/**
 * Everything one service port contributes to one node's tables, as kube-proxy's syncProxyRules
 * writes it for that port: rules appended to the shared top-level chains, and the port's own
 * chains. Immutable and shared by every node whose variant of the port is the same.
 */
export interface ServiceFragment {
  readonly portName: string;
  readonly filterServices: readonly Rule[];
  readonly filterExternalServices: readonly Rule[];
  readonly filterProxyFirewall: readonly Rule[];
  readonly filterNodePorts: readonly Rule[];
  readonly natServices: readonly Rule[];
  readonly natNodePorts: readonly Rule[];
  /** KUBE-EXT-, KUBE-FW-, KUBE-SVC-, KUBE-SVL-, then KUBE-SEP- chains, in that order. */
  readonly natChains: readonly Chain[];
}

/** The per-node inputs of a fragment beyond the service port and the profile. */
export interface FragmentVariant {
  readonly endpoints: CategorizedEndpoints;
  /** A loadBalancerSourceRange contains the node's IP. */
  readonly allowFromNode: boolean;
}

/** Builds (or reuses) the KUBE-SEP- chain of one endpoint. */
export type EndpointChainSource = (ep: EndpointInfo) => Chain;

const NONE: readonly Rule[] = [];

/**
 * The KUBE-SEP- chain of `ep`: masquerade hairpin traffic (the endpoint reaching its own
 * service), remember the client for ClientIP affinity, DNAT to the endpoint.
 */
export function endpointChain(sp: ServicePortInfo, ep: EndpointInfo, largeClusterMode: boolean): Chain {
  const name = endpointChainName(sp.portName, sp.proto, ep.hostPort);
  const comment = largeClusterMode ? '' : `-m comment --comment ${sp.portName} `;
  const affinity = sp.sessionAffinityClientIP ? `-m recent --name ${name} --set ` : '';
  return {
    name,
    rules: [
      `${comment}-s ${ep.ip} -j ${KUBE_MARK_MASQ}`,
      `${comment}${affinity}-m ${sp.proto} -p ${sp.proto} -j DNAT --to-destination ${ep.hostPort}`,
    ],
  };
}

/** Rules of a KUBE-SVC-/KUBE-SVL- chain: affinity checks first, then the random spread. */
function dispatchRules(
  sp: ServicePortInfo,
  endpoints: readonly EndpointInfo[],
  largeClusterMode: boolean,
  sepChain: EndpointChainSource,
): Rule[] {
  const rules: Rule[] = [];
  const comment = (ep: EndpointInfo) =>
    largeClusterMode ? '' : `-m comment --comment "${sp.portName} -> ${ep.hostPort}" `;
  // The endpoint's chain is built (and its name hashed) once per service port, not per rule.
  const sep = (ep: EndpointInfo) => sepChain(ep).name;
  if (sp.sessionAffinityClientIP) {
    for (const ep of endpoints) {
      rules.push(
        `${comment(ep)}-m recent --name ${sep(ep)} --rcheck --seconds ${sp.stickyMaxAgeSeconds} --reap -j ${sep(ep)}`,
      );
    }
  }
  const n = endpoints.length;
  endpoints.forEach((ep, i) => {
    const spread = i < n - 1 ? `-m statistic --mode random --probability ${probability(n - i)} ` : '';
    rules.push(`${comment(ep)}${spread}-j ${sep(ep)}`);
  });
  return rules;
}

const probabilities: string[] = [];
/** 1/n with ten decimals, as Go's "%0.10f" prints it. */
export function probability(n: number): string {
  return (probabilities[n] ??= (1 / n).toFixed(10));
}

/**
 * The fragment of service port `sp` on a node with `profile`, following kube-proxy's
 * syncProxyRules per-service block statement by statement.
 */
export function serviceFragment(
  sp: ServicePortInfo,
  variant: FragmentVariant,
  profile: NodeProfile,
  largeClusterMode: boolean,
  sepChain: EndpointChainSource,
): ServiceFragment {
  const { cluster, local, allReachable, hasAny: hasEndpoints } = variant.endpoints;
  const { proto, portName, chains } = sp;
  const match = `-m ${proto} -p ${proto}`;

  const usesClusterPolicyChain = cluster.length > 0 && usesClusterEndpoints(sp);
  const usesLocalPolicyChain = local.length > 0 && usesLocalEndpoints(sp);

  const internalTrafficChain = sp.internalPolicyLocal ? chains.svl : chains.svc;
  const hasInternalEndpoints = hasEndpoints && (!sp.internalPolicyLocal || local.length > 0);
  const externalPolicyChain = sp.externalPolicyLocal ? chains.svl : chains.svc;
  const hasExternalEndpoints = hasEndpoints && (!sp.externalPolicyLocal || local.length > 0);
  // The EXT chain exists whenever there are endpoints at all: its short-circuit rules for local
  // traffic are needed even when no endpoint takes external traffic on this node.
  const usesExternalTrafficChain = hasEndpoints && externallyAccessible(sp);
  const usesFWChain =
    hasEndpoints && sp.loadBalancerVIPs.length > 0 && sp.loadBalancerSourceRanges.length > 0;
  const loadBalancerTrafficChain = usesFWChain ? chains.fw : chains.ext;

  let internalFilter: { target: string; comment: string } | undefined;
  let externalFilter: { target: string; comment: string } | undefined;
  if (!hasEndpoints) {
    internalFilter = externalFilter = { target: 'REJECT', comment: `"${portName} has no endpoints"` };
  } else {
    if (!hasInternalEndpoints)
      internalFilter = { target: 'DROP', comment: `"${portName} has no local endpoints"` };
    if (!hasExternalEndpoints)
      externalFilter = { target: 'DROP', comment: `"${portName} has no local endpoints"` };
  }

  const filterServices: Rule[] = [];
  const filterExternalServices: Rule[] = [];
  const filterProxyFirewall: Rule[] = [];
  const filterNodePorts: Rule[] = [];
  const natServices: Rule[] = [];
  const natNodePorts: Rule[] = [];

  const clusterIpMatch = `${match} -d ${sp.clusterIP} --dport ${sp.port}`;
  if (hasInternalEndpoints) {
    natServices.push(
      `-m comment --comment "${portName} cluster IP" ${clusterIpMatch} -j ${internalTrafficChain}`,
    );
  } else {
    filterServices.push(
      `-m comment --comment ${internalFilter!.comment} ${clusterIpMatch} -j ${internalFilter!.target}`,
    );
  }

  for (const externalIP of sp.externalIPs) {
    const dst = `${match} -d ${externalIP} --dport ${sp.port}`;
    if (hasEndpoints)
      natServices.push(`-m comment --comment "${portName} external IP" ${dst} -j ${chains.ext}`);
    if (!hasExternalEndpoints) {
      filterExternalServices.push(
        `-m comment --comment ${externalFilter!.comment} ${dst} -j ${externalFilter!.target}`,
      );
    }
  }

  for (const vip of sp.loadBalancerVIPs) {
    const dst = `${match} -d ${vip} --dport ${sp.port}`;
    if (hasEndpoints)
      natServices.push(
        `-m comment --comment "${portName} loadbalancer IP" ${dst} -j ${loadBalancerTrafficChain}`,
      );
    if (usesFWChain) {
      filterProxyFirewall.push(
        `-m comment --comment "${portName} traffic not accepted by ${chains.fw}" ${dst} -j DROP`,
      );
    }
  }
  if (!hasExternalEndpoints) {
    for (const vip of sp.loadBalancerVIPs) {
      filterExternalServices.push(
        `-m comment --comment ${externalFilter!.comment} ${match} -d ${vip} --dport ${sp.port} -j ${externalFilter!.target}`,
      );
    }
  }

  if (sp.nodePort !== 0) {
    if (hasEndpoints) {
      if (profile.nfacctLocalhostNodePorts) {
        natNodePorts.push(
          `-m comment --comment ${portName} ${match} -d 127.0.0.0/8 --dport ${sp.nodePort} -m nfacct --nfacct-name ${NFACCT_LOCALHOST_NODEPORTS_ACCEPTED} -j ${chains.ext}`,
        );
      }
      natNodePorts.push(`-m comment --comment ${portName} ${match} --dport ${sp.nodePort} -j ${chains.ext}`);
    }
    if (!hasExternalEndpoints) {
      filterExternalServices.push(
        `-m comment --comment ${externalFilter!.comment} -m addrtype --dst-type LOCAL ${match} --dport ${sp.nodePort} -j ${externalFilter!.target}`,
      );
    }
  }

  if (sp.healthCheckNodePort !== 0) {
    filterNodePorts.push(
      `-m comment --comment "${portName} health check node port" -m tcp -p tcp --dport ${sp.healthCheckNodePort} -j ACCEPT`,
    );
  }

  // The port's own chains. Rules for a chain are collected in the order kube-proxy writes them.
  const own = new Map<string, Rule[]>();
  const add = (chain: string, rule: Rule) => {
    const rules = own.get(chain);
    if (rules) rules.push(rule);
    else own.set(chain, [rule]);
  };

  if (hasInternalEndpoints) {
    if (profile.masqueradeAll) {
      add(
        internalTrafficChain,
        `-m comment --comment "${portName} cluster IP" ${clusterIpMatch} -j ${KUBE_MARK_MASQ}`,
      );
    } else if (profile.localDetect) {
      // Off-cluster traffic to the service VIP may bounce off-node: masquerade it.
      add(
        internalTrafficChain,
        `-m comment --comment "${portName} cluster IP" ${clusterIpMatch} ${profile.localDetect.ifNotLocal} -j ${KUBE_MARK_MASQ}`,
      );
    }
  }

  const natChains: Chain[] = [];
  if (usesExternalTrafficChain) {
    const ext: Rule[] = [];
    if (!sp.externalPolicyLocal) {
      ext.push(
        `-m comment --comment "masquerade traffic for ${portName} external destinations" -j ${KUBE_MARK_MASQ}`,
      );
    } else {
      if (profile.localDetect) {
        // Pod traffic to an external destination is subject to neither traffic policy.
        ext.push(
          `-m comment --comment "pod traffic for ${portName} external destinations" ${profile.localDetect.ifLocal} -j ${chains.svc}`,
        );
      }
      ext.push(
        `-m comment --comment "masquerade LOCAL traffic for ${portName} external destinations" -m addrtype --src-type LOCAL -j ${KUBE_MARK_MASQ}`,
      );
      ext.push(
        `-m comment --comment "route LOCAL traffic for ${portName} external destinations" -m addrtype --src-type LOCAL -j ${chains.svc}`,
      );
    }
    if (hasExternalEndpoints) ext.push(`-j ${externalPolicyChain}`);
    natChains.push({ name: chains.ext, rules: ext });
  }

  if (usesFWChain) {
    const head = `-m comment --comment "${portName} loadbalancer IP"`;
    const fw: Rule[] = sp.loadBalancerSourceRanges.map(
      (c) => `${head} -s ${c.address}/${c.prefix} -j ${chains.ext}`,
    );
    // A node reaching its own LB VIP loops back with the VIP as source.
    if (variant.allowFromNode)
      for (const vip of sp.loadBalancerVIPs) fw.push(`${head} -s ${vip} -j ${chains.ext}`);
    fw.push(`-m comment --comment "other traffic to ${portName} will be dropped by ${KUBE_PROXY_FIREWALL}"`);
    natChains.push({ name: chains.fw, rules: fw });
  }

  if (usesClusterPolicyChain) {
    natChains.push({
      name: chains.svc,
      rules: [...(own.get(chains.svc) ?? []), ...dispatchRules(sp, cluster, largeClusterMode, sepChain)],
    });
  }
  if (usesLocalPolicyChain) {
    natChains.push({
      name: chains.svl,
      rules: [...(own.get(chains.svl) ?? []), ...dispatchRules(sp, local, largeClusterMode, sepChain)],
    });
  }
  for (const ep of allReachable) natChains.push(sepChain(ep));

  return {
    portName,
    filterServices: filterServices.length ? filterServices : NONE,
    filterExternalServices: filterExternalServices.length ? filterExternalServices : NONE,
    filterProxyFirewall: filterProxyFirewall.length ? filterProxyFirewall : NONE,
    filterNodePorts: filterNodePorts.length ? filterNodePorts : NONE,
    natServices: natServices.length ? natServices : NONE,
    natNodePorts: natNodePorts.length ? natNodePorts : NONE,
    natChains,
  };
}
