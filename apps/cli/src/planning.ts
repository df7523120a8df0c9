import {
  DEFAULT_OVERLAY_CONFIG,
  DEFAULT_PROXY_CONFIG,
  NetledgerError,
  defaultHostFacts,
  parseKubeProxyRelease,
  parseNetConf,
  type NodeState,
} from '@netledger/model';
import { NetworkPlanner, nodeStateOf } from '@netledger/planner-core';
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

/** Plans one node of a cluster file: its full desired state. */
export function planNodeFromFiles(clusterFile: string, nodeName: string, files: PlanningFiles): NodeState {
  const release = files.kubeProxyVersion
    ? parseKubeProxyRelease(files.kubeProxyVersion)
    : DEFAULT_PROXY_CONFIG.release;
  const planner = new NetworkPlanner(
    files.proxyConfig ? readProxyConfig(files.proxyConfig, release) : { ...DEFAULT_PROXY_CONFIG, release },
    files.netConf ? readNetConf(files.netConf) : DEFAULT_OVERLAY_CONFIG,
  );
  for (const object of readClusterFile(clusterFile, files.warn)) planner.upsert(object);
  const node = planner.kubeProxy.getNode(nodeName);
  if (!node) {
    const known = planner.nodeNames();
    throw new NetledgerError(
      'NODE.NOT_FOUND',
      `node ${JSON.stringify(nodeName)} is not in ${clusterFile}${known.length ? ` (nodes: ${known.join(', ')})` : ' (it has no Node objects)'}`,
    );
  }
  if (files.host) planner.setHostFacts(nodeName, readHostFacts(files.host, defaultHostFacts(node)));
  return nodeStateOf(planner.planNode(nodeName));
}
