import { Inject, Injectable, SetMetadata, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { NetledgerError } from '@netledger/model';
import { timingSafeEqual } from 'node:crypto';
import { API_SETTINGS, type ApiSettings, type Role } from '../api-settings';

export const REQUIRES_ROLE = 'netledger:role';
/** Marks a handler as needing the admin role (everything else needs any valid token). */
export const AdminOnly = () => SetMetadata(REQUIRES_ROLE, 'admin');

/** Bearer tokens from configuration; 401 without a valid one, 403 without the role. */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    @Inject(API_SETTINGS) private readonly settings: ApiSettings,
    private readonly reflector: Reflector,
  ) {}

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    const header = request.headers.authorization ?? '';
    const m = /^Bearer ([\x21-\x7e]{1,512})$/.exec(header);
    const role = m ? this.roleOf(m[1]!) : undefined;
    if (!role) throw new NetledgerError('AUTH.UNAUTHENTICATED', 'a valid bearer token is required');
    const needed = this.reflector.get<Role | undefined>(REQUIRES_ROLE, context.getHandler());
    if (needed === 'admin' && role !== 'admin')
      throw new NetledgerError('AUTH.FORBIDDEN', 'this needs an admin token');
    return true;
  }

  private roleOf(token: string): Role | undefined {
    const given = Buffer.from(token);
    for (const [known, role] of this.settings.tokens) {
      const k = Buffer.from(known);
      if (k.length === given.length && timingSafeEqual(k, given)) return role;
    }
    return undefined;
  }
}
