import { NetledgerError } from '../errors/netledger-error';
import { canonicalIp, formatCidr, parseCidr } from '../net/ip';
import type { Node } from '../kube/objects';

/**
 * What kube-proxy learns from the host it runs on. In production the executor reports it; the
 * planner uses defaults derived from the Node object until then.
 */
export interface HostFacts {
  /** The host's interface addresses as "ip/prefix" (the address itself, not the network). */
  readonly interfaceAddresses: readonly string[];
  /** Whether iptables supports MASQUERADE --random-fully. */
  readonly randomFully: boolean;
  /** nfacct counters kube-proxy could create on this host. */
  readonly nfacctCounters: readonly string[];
  /** net.netfilter.nf_conntrack_tcp_be_liberal is non-zero (kube-proxy then drops no INVALID packets). */
  readonly conntrackTcpBeLiberal: boolean;
  /** MTU of the underlay interface (the overlay device gets 50 less). */
  readonly underlayMtu: number;
}

/** Defaults for a host nothing was reported from: its InternalIPs plus loopback, a modern iptables. */
export function defaultHostFacts(node: Node | undefined): HostFacts {
  const internal = (node?.addresses ?? [])
    .filter((a) => a.type === 'InternalIP')
    .map((a) => `${a.address}/${a.address.includes(':') ? 128 : 32}`);
  return {
    interfaceAddresses: ['127.0.0.1/8', ...internal],
    randomFully: true,
    nfacctCounters: [],
    conntrackTcpBeLiberal: false,
    underlayMtu: 1500,
  };
}

const NFACCT_NAME = /^[a-z][a-z0-9_]{0,31}$/;

function bad(field: string, reason: string): never {
  throw new NetledgerError('INPUT.INVALID_HOST_FACTS', `host facts: ${field}: ${reason}`, {
    details: { field, reason },
  });
}

/**
 * Reads host facts as JSON (`{"interfaceAddresses": [...], "iptables": {"randomFully": true,
 * "nfacct": [...]}, "conntrackTcpBeLiberal": false, "underlayMtu": 1500}`), filling what is
 * absent from `defaults`.
 */
export function parseHostFacts(raw: unknown, defaults: HostFacts): HostFacts {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('(document)', 'not an object');
  const r = raw as Record<string, unknown>;
  const iptables = (r.iptables ?? {}) as Record<string, unknown>;
  let interfaceAddresses = defaults.interfaceAddresses;
  if (r.interfaceAddresses !== undefined) {
    if (!Array.isArray(r.interfaceAddresses)) bad('interfaceAddresses', 'must be a list');
    interfaceAddresses = r.interfaceAddresses.map((text: unknown, i) => {
      if (typeof text !== 'string') bad(`interfaceAddresses[${i}]`, 'must be a string');
      const [ipText, prefix] = text.includes('/') ? text.split('/', 2) : [text, undefined];
      const ip = canonicalIp(ipText ?? '');
      const cidr = ip ? parseCidr(`${ip}/${prefix ?? (ip.includes(':') ? 128 : 32)}`) : undefined;
      if (!ip || !cidr) bad(`interfaceAddresses[${i}]`, `${JSON.stringify(text)} is not ip/prefix`);
      return `${ip}/${formatCidr(cidr).split('/')[1]}`;
    });
  }
  const randomFully = iptables.randomFully ?? defaults.randomFully;
  if (typeof randomFully !== 'boolean') bad('iptables.randomFully', 'must be true or false');
  let nfacctCounters = defaults.nfacctCounters;
  if (iptables.nfacct !== undefined) {
    if (!Array.isArray(iptables.nfacct)) bad('iptables.nfacct', 'must be a list');
    nfacctCounters = iptables.nfacct.map((name: unknown, i) =>
      typeof name === 'string' && NFACCT_NAME.test(name)
        ? name
        : bad(`iptables.nfacct[${i}]`, `${JSON.stringify(name)} is not a counter name`),
    );
  }
  const liberal = r.conntrackTcpBeLiberal ?? defaults.conntrackTcpBeLiberal;
  if (typeof liberal !== 'boolean') bad('conntrackTcpBeLiberal', 'must be true or false');
  const mtu = r.underlayMtu ?? defaults.underlayMtu;
  if (typeof mtu !== 'number' || !Number.isInteger(mtu) || mtu < 1280 || mtu > 65535)
    bad('underlayMtu', 'must be an integer 1280..65535');
  return {
    interfaceAddresses,
    randomFully,
    nfacctCounters,
    conntrackTcpBeLiberal: liberal,
    underlayMtu: mtu,
  };
}
