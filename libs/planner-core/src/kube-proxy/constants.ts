/**
 * Names and texts kube-proxy (iptables mode, pkg/proxy/iptables/proxier.go) writes. Netledger
 * matches the proxier of the release ProxyConfig.release names (v1.34 to v1.37, default v1.37),
 * held to it by test/reference, which runs those proxiers.
 */

export const KUBE_SERVICES = 'KUBE-SERVICES';
export const KUBE_EXTERNAL_SERVICES = 'KUBE-EXTERNAL-SERVICES';
export const KUBE_NODEPORTS = 'KUBE-NODEPORTS';
export const KUBE_POSTROUTING = 'KUBE-POSTROUTING';
export const KUBE_MARK_MASQ = 'KUBE-MARK-MASQ';
export const KUBE_FORWARD = 'KUBE-FORWARD';
export const KUBE_PROXY_FIREWALL = 'KUBE-PROXY-FIREWALL';
/** kube-proxy's copy of kubelet's anti-martian chain, written only with localhost NodePorts. */
export const KUBE_FIREWALL = 'KUBE-FIREWALL';

/**
 * kube-proxy's own top-level chains. KUBE-FIREWALL is not among them: kubelet creates one of that
 * name too, and kube-proxy writes its own only with localhost NodePorts.
 */
export const KUBE_PROXY_CHAINS: readonly string[] = [
  KUBE_SERVICES,
  KUBE_EXTERNAL_SERVICES,
  KUBE_NODEPORTS,
  KUBE_POSTROUTING,
  KUBE_MARK_MASQ,
  KUBE_FORWARD,
  KUBE_PROXY_FIREWALL,
];

/** nfacct counters kube-proxy attaches to rules when the host has them. */
export const NFACCT_CT_STATE_INVALID_DROPPED = 'ct_state_invalid_dropped_pkts';
export const NFACCT_LOCALHOST_NODEPORTS_ACCEPTED = 'localhost_nps_accepted_pkts';

/** Above this many endpoints kube-proxy drops per-endpoint comments ("large cluster mode"). */
export const LARGE_CLUSTER_ENDPOINTS_THRESHOLD = 1000;

export const NODEPORTS_TAIL_COMMENT =
  '"kubernetes service nodeports; NOTE: this must be the last rule in this chain"';
