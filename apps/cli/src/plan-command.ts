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
import { planNodeFromFiles, type PlanningFiles } from './planning';

export interface PlanOptions extends PlanningFiles {
  cluster: string;
  node: string;
  output: string;
}

/** `netledger plan`: the state one node must have, from files, printed for a person or a tool. */
export function planCommand(options: PlanOptions): string {
  const state = planNodeFromFiles(options.cluster, options.node, options);
  switch (options.output) {
    case 'iptables':
      return renderStateListing(state);
    case 'iptables-restore':
      return renderStateRestore(state);
    case 'iproute2':
      return formatOverlayOps(renderStateOverlay(state));
    case 'json':
      return `${JSON.stringify({ node: options.node, kubeProxyRelease: options.kubeProxyVersion ? parseKubeProxyRelease(options.kubeProxyVersion) : DEFAULT_KUBE_PROXY_RELEASE, state: encodeNodeState(state) }, null, 2)}\n`;
    default:
      throw new NetledgerError(
        'INPUT.INVALID_ARGUMENT',
        `--output ${JSON.stringify(options.output)}: expected iptables, iptables-restore, iproute2 or json`,
      );
  }
}
