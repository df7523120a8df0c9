import { createHash } from 'node:crypto';
import { AuthenticationV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Principal } from '../api-tokens';

/** What the API takes from Kubernetes' TokenReview: an executor's pod-bound ServiceAccount token. */
export interface TokenReviewSettings {
  /** The audience the executor's projected token is made for (and nothing else accepts). */
  readonly audience: string;
  /** The executors' ServiceAccount, as a username: system:serviceaccount:<namespace>:<name>. */
  readonly executorUser: string;
}

/** The node a bound token's pod runs on, as TokenReview reports it (Kubernetes 1.30 and later). */
const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';
const CACHE_MS = 60_000;
const CACHE_ENTRIES = 10_000;

/**
 * Authenticates bearer tokens the API does not know itself by asking the apiserver
 * (TokenReview), as kube-apiserver's webhook authenticator does: a token of the executors'
 * ServiceAccount, made for Netledger's audience and bound to a pod, speaks for the node that pod
 * runs on. Answers are kept a minute, by the token's hash (the token itself is never kept).
 */
export class TokenReviewer {
  private readonly api: AuthenticationV1Api;
  private readonly cache = new Map<string, { principal: Principal | undefined; until: number }>();

  constructor(
    kubeConfig: KubeConfig,
    private readonly settings: TokenReviewSettings,
  ) {
    this.api = kubeConfig.makeApiClient(AuthenticationV1Api);
  }

  async review(token: string): Promise<Principal | undefined> {
    const key = createHash('sha256').update(token).digest('hex');
    const now = Date.now();
    const cached = this.cache.get(key);
    if (cached && cached.until > now) return cached.principal;
    const principal = await this.ask(token);
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, { principal, until: now + CACHE_MS });
    return principal;
  }

  private async ask(token: string): Promise<Principal | undefined> {
    const review = await this.api.createTokenReview({
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token, audiences: [this.settings.audience] },
      },
    });
    const status = review.status;
    if (!status?.authenticated || !status.audiences?.includes(this.settings.audience)) return undefined;
    if (status.user?.username !== this.settings.executorUser) return undefined;
    const node = status.user.extra?.[NODE_NAME_EXTRA]?.[0];
    return node ? { role: 'node', node } : undefined;
  }
}
