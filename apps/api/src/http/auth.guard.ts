import { Inject, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { NetledgerError } from '@netledger/model';
import { timingSafeEqual } from 'node:crypto';
import { API_SETTINGS, type ApiSettings } from '../api-settings';
import type { Principal } from '../api-tokens';
import type { TokenReviewer } from './token-review';

/** The TokenReview authenticator, or undefined when it is off. */
export const TOKEN_REVIEWER = Symbol('TOKEN_REVIEWER');

export const REQUIRES_ROLE = 'netledger:role';
export const NODE_SCOPE = 'netledger:node-scope';
/** Marks a handler as needing the admin role (everything else needs a reader or admin token). */
export const AdminOnly = () => SetMetadata(REQUIRES_ROLE, 'admin');
/**
 * Marks a handler an executor's token may call for its own node: the node named by the route's
 * `node` parameter or the `node` query parameter.
 */
export const OwnNodeReadable = (from: 'param' | 'query') => SetMetadata(NODE_SCOPE, from);

interface Request {
  headers: Record<string, string | undefined>;
  params?: Record<string, string | undefined>;
  query?: Record<string, unknown>;
}

/**
 * Bearer tokens from configuration: 401 without a valid one, 403 without the role. An
 * executor's token reads only its own node's plan and state, nothing else of the cluster.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    @Inject(API_SETTINGS) private readonly settings: ApiSettings,
    @Inject(TOKEN_REVIEWER) private readonly reviewer: TokenReviewer | undefined,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<Request>();
    const header = request.headers.authorization ?? '';
    // A projected ServiceAccount token is a JWT of about 1 KiB.
    const m = /^Bearer ([\x21-\x7e]{1,4096})$/.exec(header);
    const principal = m ? (this.principalOf(m[1]!) ?? (await this.reviewed(m[1]!))) : undefined;
    if (!principal) throw new NetledgerError('AUTH.UNAUTHENTICATED', 'a valid bearer token is required');
    if (principal.role === 'node') {
      const scope = this.reflector.get<'param' | 'query' | undefined>(NODE_SCOPE, context.getHandler());
      const asked =
        scope === 'param' ? request.params?.node : scope === 'query' ? request.query?.node : undefined;
      if (asked !== principal.node)
        throw new NetledgerError(
          'AUTH.FORBIDDEN',
          `an executor's token reads only its own node (${principal.node})`,
        );
      return true;
    }
    const needed = this.reflector.get<Principal['role'] | undefined>(REQUIRES_ROLE, context.getHandler());
    if (needed === 'admin' && principal.role !== 'admin')
      throw new NetledgerError('AUTH.FORBIDDEN', 'this needs an admin token');
    return true;
  }

  private async reviewed(token: string): Promise<Principal | undefined> {
    // Only what can be a ServiceAccount token (a JWT) is sent to the apiserver.
    if (!this.reviewer || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) return undefined;
    try {
      return await this.reviewer.review(token);
    } catch (error) {
      throw new NetledgerError(
        'AUTH.UNAVAILABLE',
        'the token could not be reviewed: the apiserver did not answer',
        {
          cause: error,
        },
      );
    }
  }

  private principalOf(token: string): Principal | undefined {
    const given = Buffer.from(token);
    let found: Principal | undefined;
    // Every known token compared, in constant time each: the time says nothing of which matched.
    for (const [known, principal] of this.settings.tokens) {
      const k = Buffer.from(known);
      if (k.length === given.length && timingSafeEqual(k, given)) found = principal;
    }
    return found;
  }
}
