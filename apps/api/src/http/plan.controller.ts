import { Controller, Get, Header, Query, UseFilters, UseGuards } from '@nestjs/common';
import { encodePlanChange } from '@netledger/messaging';
import { NetledgerError } from '@netledger/model';
import { z } from 'zod';
import { PlanViewService } from '../projections/plan-view.service';
import { BearerAuthGuard, OwnNodeReadable } from './auth.guard';
import { ApiErrorFilter } from './error.filter';
import { nodeName, parseQuery } from './params';

const snapshotQuery = z.object({ node: z.string().min(1).max(253) }).strict();

/** The plan as a whole: its revision and size, and a node's snapshot for its executor. */
@Controller('v1/plan')
@UseGuards(BearerAuthGuard)
@UseFilters(ApiErrorFilter)
export class PlanController {
  constructor(private readonly plan: PlanViewService) {}

  @Get()
  async summary() {
    const book = await this.plan.book();
    return {
      revision: book.revision,
      recordedAt: (await this.plan.headRecordedAt())?.toISOString() ?? null,
      ...book.stats(),
    };
  }

  /**
   * What a node's executor needs to start from: the shared tables and peers, the node's manifest
   * and the fragments they name, at the latest revision, as one plan message (the format of the
   * plan topic, so the executor validates it the same way). Nothing of other nodes' manifests.
   */
  @Get('snapshot')
  @OwnNodeReadable('query')
  @Header('Content-Type', 'application/json')
  @Header('Cache-Control', 'no-store')
  async snapshot(@Query() query: unknown): Promise<string> {
    const node = nodeName(parseQuery(snapshotQuery, query).node);
    const book = await this.plan.book();
    if (book.revision === 0) throw new NetledgerError('PLAN.NOT_FOUND', 'no plan has been recorded yet');
    const change = book.snapshot(node);
    const bodies = await this.plan.ledger.fragments(change.fragments);
    const fragments = change.fragments.map((digest) => {
      const body = bodies.get(digest);
      if (!body) throw new NetledgerError('PLAN.LEDGER_INCONSISTENT', `fragment ${digest} is not stored`);
      return { digest, kind: body.kind, json: body.json };
    });
    return encodePlanChange(change, fragments, Number.POSITIVE_INFINITY)[0]!.value;
  }
}
