import { DEFAULT_PROXY_CONFIG, NetledgerError, defaultHostFacts } from '@netledger/model';
import {
  KUBE_PROXY_RELEASE,
  KubeProxyPlanner,
  kubeProxyTables,
  renderRestore,
} from '@netledger/planner-core';
import { readClusterFile, readHostFacts, readProxyConfig } from './input-files';

export interface PlanOptions {
  cluster: string;
  node: string;
  proxyConfig?: string;
  host?: string;
  output: string;
}

/** `netledger plan`: the state kube-proxy would program on one node, from files, without I/O beyond them. */
export function planCommand(options: PlanOptions): string {
  const objects = readClusterFile(options.cluster);
  const planner = new KubeProxyPlanner(
    options.proxyConfig ? readProxyConfig(options.proxyConfig) : DEFAULT_PROXY_CONFIG,
  );
  for (const object of objects) planner.upsert(object);
  const node = planner.getNode(options.node);
  if (!node) {
    const known = planner.nodeNames();
    throw new NetledgerError(
      'NODE.NOT_FOUND',
      `node ${JSON.stringify(options.node)} is not in ${options.cluster}${known.length ? ` (nodes: ${known.join(', ')})` : ' (it has no Node objects)'}`,
    );
  }
  if (options.host) planner.setHostFacts(options.node, readHostFacts(options.host, defaultHostFacts(node)));
  const tables = kubeProxyTables(planner.planNode(options.node));
  switch (options.output) {
    case 'iptables':
      return renderRestore([tables.filter, tables.nat]);
    case 'json':
      return `${JSON.stringify(
        {
          node: options.node,
          kubeProxyRelease: KUBE_PROXY_RELEASE,
          iptables: {
            filter: Object.fromEntries(tables.filter.chains.map((c) => [c.name, c.rules])),
            nat: Object.fromEntries(tables.nat.chains.map((c) => [c.name, c.rules])),
            jumps: tables.jumps,
          },
        },
        null,
        2,
      )}\n`;
    default:
      throw new NetledgerError(
        'INPUT.INVALID_ARGUMENT',
        `--output ${JSON.stringify(options.output)}: expected iptables or json`,
      );
  }
}
