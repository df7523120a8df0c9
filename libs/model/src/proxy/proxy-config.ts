import { NetledgerError } from '../errors/netledger-error';
import { formatCidr, parseCidr } from '../net/ip';

/**
 * The kube-proxy settings that change the rules it writes, validated. Built from kube-proxy's own
 * KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) by parseKubeProxyConfiguration.
 */
/** The kube-proxy releases whose rules Netledger writes; the newest is the default. */
export const KUBE_PROXY_RELEASES = ['v1.34', 'v1.35', 'v1.36', 'v1.37'] as const;
export type KubeProxyRelease = (typeof KUBE_PROXY_RELEASES)[number];
export const DEFAULT_KUBE_PROXY_RELEASE: KubeProxyRelease = 'v1.37';

/** The release's minor version, for "since" comparisons. */
export const releaseMinor = (release: KubeProxyRelease) => Number(release.split('.')[1]);

/** Reads a --kube-proxy-version value ("v1.36", "1.36", "v1.36.3"); throws naming the choices. */
export function parseKubeProxyRelease(text: string): KubeProxyRelease {
  const m = /^v?1\.(\d+)(\.\d+)?$/.exec(text.trim());
  const release = m ? (`v1.${m[1]}` as KubeProxyRelease) : undefined;
  if (!release || !KUBE_PROXY_RELEASES.includes(release))
    throw new NetledgerError(
      'INPUT.INVALID_PROXY_CONFIG',
      `kube-proxy version ${JSON.stringify(text)}: expected one of ${KUBE_PROXY_RELEASES.join(', ')}`,
      { details: { field: 'kubeProxyVersion', reason: 'unsupported release' } },
    );
  return release;
}

export interface ProxyConfig {
  /**
   * The kube-proxy release whose rules to write (clusters run skewed). What changes with it:
   * v1.37 always writes MASQUERADE --random-fully (before, only where iptables has it) and takes
   * the nodePortAddresses keywords localhost and all, and primary beside CIDRs; from v1.36 a
   * non-terminating copy of a duplicated endpoint replaces an earlier one (before, the first
   * copy stayed).
   */
  readonly release: KubeProxyRelease;
  /** Canonical CIDRs from clusterCIDR (comma separated there). */
  readonly clusterCIDRs: readonly string[];
  /** How kube-proxy tells pod traffic from the rest. */
  readonly detectLocalMode: DetectLocalMode;
  /** detectLocal.bridgeInterface (BridgeInterface mode): the bridge pods are attached to. */
  readonly bridgeInterface: string;
  /** detectLocal.interfaceNamePrefix (InterfaceNamePrefix mode): pods' host-side interfaces. */
  readonly interfaceNamePrefix: string;
  /**
   * conntrack.tcpBeLiberal: kube-proxy sets nf_conntrack_tcp_be_liberal, and then writes no DROP
   * of INVALID packets (as when the host already had it set).
   */
  readonly conntrackTcpBeLiberal: boolean;
  /** iptables.masqueradeBit, 0..31 (default 14). */
  readonly masqueradeBit: number;
  readonly masqueradeAll: boolean;
  /** iptables.localhostNodePorts (default true). */
  readonly localhostNodePorts: boolean;
  /**
   * Canonical CIDRs, or the keywords "primary" (the node's IP), "localhost" (loopback) and "all"
   * (v1.37); empty means every local address.
   */
  readonly nodePortAddresses: readonly string[];
}

export type DetectLocalMode = 'ClusterCIDR' | 'NodeCIDR' | 'BridgeInterface' | 'InterfaceNamePrefix';

export const DEFAULT_PROXY_CONFIG: ProxyConfig = {
  release: DEFAULT_KUBE_PROXY_RELEASE,
  clusterCIDRs: [],
  detectLocalMode: 'ClusterCIDR',
  bridgeInterface: '',
  interfaceNamePrefix: '',
  conntrackTcpBeLiberal: false,
  masqueradeBit: 14,
  masqueradeAll: false,
  localhostNodePorts: true,
  nodePortAddresses: [],
};

function bad(field: string, reason: string): never {
  throw new NetledgerError('INPUT.INVALID_PROXY_CONFIG', `KubeProxyConfiguration: ${field}: ${reason}`, {
    details: { field, reason },
  });
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const DETECT_LOCAL_MODES: readonly DetectLocalMode[] = [
  'ClusterCIDR',
  'NodeCIDR',
  'BridgeInterface',
  'InterfaceNamePrefix',
];

/** An interface name (or prefix) as the kernel takes it: 1..15 characters, no '/', no space. */
const INTERFACE_NAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

function interfaceName(value: unknown, field: string): string {
  if (value === undefined || value === null || value === '') return '';
  if (typeof value !== 'string' || !INTERFACE_NAME.test(value))
    bad(field, `${JSON.stringify(value)} is not an interface name`);
  return value;
}

function bool(value: unknown, field: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') bad(field, 'must be true or false');
  return value;
}

/**
 * Reads kube-proxy's KubeProxyConfiguration (as parsed from its YAML or JSON file) into a
 * ProxyConfig. Unknown fields are ignored as kube-proxy's lenient decoding would; wrong values
 * throw INPUT.INVALID_PROXY_CONFIG naming the field.
 */
export function parseKubeProxyConfiguration(
  raw: unknown,
  release: KubeProxyRelease = DEFAULT_KUBE_PROXY_RELEASE,
): ProxyConfig {
  if (!isRecord(raw)) bad('(document)', 'not a mapping');
  if (raw.kind !== 'KubeProxyConfiguration')
    bad('kind', `expected KubeProxyConfiguration, got ${JSON.stringify(raw.kind)}`);
  if (raw.apiVersion !== 'kubeproxy.config.k8s.io/v1alpha1') {
    bad('apiVersion', `expected kubeproxy.config.k8s.io/v1alpha1, got ${JSON.stringify(raw.apiVersion)}`);
  }
  const iptables = isRecord(raw.iptables) ? raw.iptables : {};
  const linux = isRecord(raw.linux) ? raw.linux : {};

  let clusterCIDRs: string[] = [];
  if (raw.clusterCIDR !== undefined && raw.clusterCIDR !== null && raw.clusterCIDR !== '') {
    if (typeof raw.clusterCIDR !== 'string') bad('clusterCIDR', 'must be a string');
    clusterCIDRs = raw.clusterCIDR.split(',').map((text, i) => {
      const cidr = parseCidr(text);
      return cidr ? formatCidr(cidr) : bad(`clusterCIDR[${i}]`, `${JSON.stringify(text)} is not a CIDR`);
    });
  }

  const mode = raw.detectLocalMode || 'ClusterCIDR';
  if (!DETECT_LOCAL_MODES.includes(mode as DetectLocalMode)) {
    bad('detectLocalMode', `${JSON.stringify(mode)} is not one of ${DETECT_LOCAL_MODES.join(', ')}`);
  }
  const detectLocal = isRecord(raw.detectLocal) ? raw.detectLocal : {};
  // As kube-proxy's validation: the mode's interface must be given, and be an interface name.
  const bridgeInterface = interfaceName(detectLocal.bridgeInterface, 'detectLocal.bridgeInterface');
  const interfaceNamePrefix = interfaceName(
    detectLocal.interfaceNamePrefix,
    'detectLocal.interfaceNamePrefix',
  );
  if (mode === 'BridgeInterface' && !bridgeInterface)
    bad('detectLocal.bridgeInterface', 'required when detectLocalMode is BridgeInterface');
  if (mode === 'InterfaceNamePrefix' && !interfaceNamePrefix)
    bad('detectLocal.interfaceNamePrefix', 'required when detectLocalMode is InterfaceNamePrefix');
  if (Array.isArray(detectLocal.clusterCIDRs) && clusterCIDRs.length === 0) {
    // v1alpha1 has clusterCIDR; detectLocal.clusterCIDRs is the internal form, accepted too.
    clusterCIDRs = detectLocal.clusterCIDRs.map((text: unknown, i) => {
      const cidr = typeof text === 'string' ? parseCidr(text) : undefined;
      return cidr
        ? formatCidr(cidr)
        : bad(`detectLocal.clusterCIDRs[${i}]`, `${JSON.stringify(text)} is not a CIDR`);
    });
  }
  const conntrack = isRecord(raw.conntrack) ? raw.conntrack : {};

  const bit = iptables.masqueradeBit ?? 14;
  if (typeof bit !== 'number' || !Number.isInteger(bit) || bit < 0 || bit > 31)
    bad('iptables.masqueradeBit', 'must be an integer 0..31');

  const addresses = raw.nodePortAddresses ?? [];
  if (!Array.isArray(addresses)) bad('nodePortAddresses', 'must be a list');
  const nodePortAddresses = addresses.map((text: unknown, i) => {
    if (text === 'primary' && (releaseMinor(release) >= 37 || addresses.length === 1)) return text;
    if (text === 'primary')
      bad(`nodePortAddresses[${i}]`, `"primary" must be alone before v1.37 (${release})`);
    if (text === 'localhost' || text === 'all') {
      if (releaseMinor(release) >= 37) return text;
      bad(`nodePortAddresses[${i}]`, `the keyword ${JSON.stringify(text)} is new in v1.37 (${release})`);
    }
    const cidr = typeof text === 'string' ? parseCidr(text) : undefined;
    return cidr
      ? formatCidr(cidr)
      : bad(
          `nodePortAddresses[${i}]`,
          `${JSON.stringify(text)} is not a CIDR, "primary", "localhost" or "all"`,
        );
  });

  return {
    release,
    clusterCIDRs,
    detectLocalMode: mode as DetectLocalMode,
    bridgeInterface,
    interfaceNamePrefix,
    conntrackTcpBeLiberal: bool(conntrack.tcpBeLiberal, 'conntrack.tcpBeLiberal', false),
    masqueradeBit: bit,
    // linux.masqueradeAll replaced iptables.masqueradeAll; either sets it.
    masqueradeAll:
      bool(linux.masqueradeAll, 'linux.masqueradeAll', false) ||
      bool(iptables.masqueradeAll, 'iptables.masqueradeAll', false),
    localhostNodePorts: bool(iptables.localhostNodePorts, 'iptables.localhostNodePorts', true),
    nodePortAddresses,
  };
}
