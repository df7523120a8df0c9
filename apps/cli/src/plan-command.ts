import {
  DEFAULT_KUBE_PROXY_RELEASE,
  NetledgerError,
  encodeNodeState,
  parseKubeProxyRelease,
} from '@netledger/model';
import {
  formatOverlayOps,
  renderStateOverlay,
  renderStateListing,
  renderStateRestore,
} from '@netledger/planner-core';
import { planNodeFromFiles, planNodeIPv6FromFiles, type PlanningFiles } from './planning';

export interface PlanOptions extends PlanningFiles {
  cluster: string;
  node: string;
  output: string;
}

/** `netledger plan`: the state one node must have, from files, printed for a person or a tool. */
export function planCommand(options: PlanOptions): string {
  if (options.output === 'ip6tables' || options.output === 'ip6tables-restore') {
    // kube-proxy's IPv6 proxier: ip6tables-save and ip6tables-restore take the same text forms.
    const v6 = planNodeIPv6FromFiles(options.cluster, options.node, options);
    return options.output === 'ip6tables' ? renderStateListing(v6, 'IPv6') : renderStateRestore(v6, 'IPv6');
  }
  const state = planNodeFromFiles(options.cluster, options.node, options);
  switch (options.output) {
    case 'iptables':
      return renderStateListing(state);
    case 'iptables-restore':
      return renderStateRestore(state);
    case 'iproute2':
      return formatOverlayOps(renderStateOverlay(state));
    case 'json': {
      const release = options.kubeProxyVersion
        ? parseKubeProxyRelease(options.kubeProxyVersion)
        : DEFAULT_KUBE_PROXY_RELEASE;
      const ipv6 = planNodeIPv6FromFiles(options.cluster, options.node, options);
      const { chains, jumps } = encodeNodeState(ipv6);
      return `${JSON.stringify({ node: options.node, kubeProxyRelease: release, state: encodeNodeState(state), ipv6: { chains, jumps } }, null, 2)}\n`;
    }
    default:
      throw new NetledgerError(
        'INPUT.INVALID_ARGUMENT',
        `--output ${JSON.stringify(options.output)}: expected iptables, iptables-restore, ip6tables, ip6tables-restore, iproute2 or json`,
      );
  }
}
