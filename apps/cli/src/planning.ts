import {
  DEFAULT_OVERLAY_CONFIG,
  DEFAULT_PROXY_CONFIG,
  NetledgerError,
  defaultHostFacts,
  parseKubeProxyRelease,
  parseNetConf,
  type HostFacts,
  type KubeObject,
  type Node,
  type NodeState,
  type ProxyConfig,
} from '@netledger/model';
import { KubeProxyPlanner, NetworkPlanner, kubeProxyStateOf, nodeStateOf } from '@netledger/planner-core';
import { readClusterFile, readDocuments, readHostFacts, readProxyConfig } from './input-files';

export interface PlanningFiles {
  proxyConfig?: string;
  netConf?: string;
  host?: string;
  /** The kube-proxy release whose rules to write (default v1.37). */
  kubeProxyVersion?: string;
  /** Told each element left out of an object (see readClusterFile). */
  warn?: (line: string) => void;
}

/** flannel's net-conf.json. */
export function readNetConf(path: string) {
  const docs = readDocuments(path);
  if (docs.length !== 1)
    throw new NetledgerError('INPUT.MALFORMED_FILE', `${path}: expected one JSON object`);
  return parseNetConf(docs[0]);
}

interface PlanningInput {
  config: ProxyConfig;
  objects: KubeObject[];
  facts: HostFacts | undefined;
}

/** Reads what planning one node takes; refuses a node the cluster file does not hold. */
function planningInput(clusterFile: string, nodeName: string, files: PlanningFiles): PlanningInput {
  const release = files.kubeProxyVersion
    ? parseKubeProxyRelease(files.kubeProxyVersion)
    : DEFAULT_PROXY_CONFIG.release;
  const config = files.proxyConfig
    ? readProxyConfig(files.proxyConfig, release)
    : { ...DEFAULT_PROXY_CONFIG, release };
  const objects = readClusterFile(clusterFile, files.warn);
  const nodes = objects.filter((o): o is Node => o.kind === 'Node');
  const node = nodes.find((n) => n.name === nodeName);
  if (!node) {
    const known = nodes.map((n) => n.name).sort();
    throw new NetledgerError(
      'NODE.NOT_FOUND',
      `node ${JSON.stringify(nodeName)} is not in ${clusterFile}${known.length ? ` (nodes: ${known.join(', ')})` : ' (it has no Node objects)'}`,
    );
  }
  const facts = files.host ? readHostFacts(files.host, defaultHostFacts(node)) : undefined;
  return { config, objects, facts };
}

/** Plans one node of a cluster file: its full desired state (kube-proxy's IPv4 proxier, flannel). */
export function planNodeFromFiles(clusterFile: string, nodeName: string, files: PlanningFiles): NodeState {
  const { config, objects, facts } = planningInput(clusterFile, nodeName, files);
  const planner = new NetworkPlanner(
    config,
    files.netConf ? readNetConf(files.netConf) : DEFAULT_OVERLAY_CONFIG,
  );
  for (const object of objects) planner.upsert(object);
  if (facts) planner.setHostFacts(nodeName, facts);
  return nodeStateOf(planner.planNode(nodeName));
}

/** What kube-proxy's IPv6 proxier would program on the node (ip6tables), from the same files. */
export function planNodeIPv6FromFiles(
  clusterFile: string,
  nodeName: string,
  files: PlanningFiles,
): NodeState {
  const { config, objects, facts } = planningInput(clusterFile, nodeName, files);
  const planner = new KubeProxyPlanner(config, 'IPv6');
  for (const object of objects) planner.upsert(object);
  if (facts) planner.setHostFacts(nodeName, facts);
  return kubeProxyStateOf(planner.planNode(nodeName), 'IPv6');
}
