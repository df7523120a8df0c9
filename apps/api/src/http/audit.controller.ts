import { Controller, Get, Post, Query, UseFilters, UseGuards } from '@nestjs/common';
import {
  KUBE_OBJECT_APPLIED,
  KUBE_OBJECT_DELETED,
  KUBE_OBJECT_REJECTED,
  PLAN_CHANGED,
} from '@netledger/model';
import { z } from 'zod';
import { ProjectorService } from '../projections/projector.service';
import { AuditQueries } from './audit-queries';
import { AdminOnly, BearerAuthGuard } from './auth.guard';
import { ApiErrorFilter } from './error.filter';
import { isoTime, label, parseQuery } from './params';

const auditQuery = z
  .object({
    from: isoTime.optional(),
    to: isoTime.optional(),
    node: label.optional(),
    kind: z.enum(['Node', 'Service', 'EndpointSlice']).optional(),
    namespace: label.optional(),
    name: label.optional(),
    type: z.enum([KUBE_OBJECT_APPLIED, KUBE_OBJECT_DELETED, KUBE_OBJECT_REJECTED, PLAN_CHANGED]).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().max(64).optional(),
  })
  .strict();

@Controller('v1')
@UseGuards(BearerAuthGuard)
@UseFilters(ApiErrorFilter)
export class AuditController {
  constructor(
    private readonly audit: AuditQueries,
    private readonly projector: ProjectorService,
  ) {}

  /** Events by time, node, object and type, rejected inputs included, in global position order. */
  @Get('audit')
  async query(@Query() query: unknown) {
    const q = parseQuery(auditQuery, query);
    return this.audit.query(q);
  }

  /** Rebuilds the projections from position 0 (admin). */
  @Post('admin/projections/rebuild')
  @AdminOnly()
  async rebuild() {
    await this.projector.rebuild();
    return { rebuilt: true, position: this.projector.position() };
  }
}
