import { KubeConfig } from '@kubernetes/client-node';

/**
 * Loads how to reach the apiserver: a kubeconfig file (KUBECONFIG or the given path), or the
 * in-cluster service account when running in a pod.
 */
export function loadKubeConfig(path: string | undefined = process.env.KUBECONFIG): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else throw new Error('no kubeconfig: set KUBECONFIG, or run in a cluster');
  return kc;
}

/** A kubeconfig for one server and bearer token (tests, tools). */
export function kubeConfigFor(server: string, token: string, caData?: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    // client-node refuses plain http unless skipTLSVerify is set (loopback test servers).
    clusters: [{ name: 'netledger', server, ...(caData ? { caData } : { skipTLSVerify: true }) }],
    users: [{ name: 'netledger', token }],
    contexts: [{ name: 'netledger', cluster: 'netledger', user: 'netledger' }],
    currentContext: 'netledger',
  });
  return kc;
}
