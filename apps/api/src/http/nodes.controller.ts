import { Controller, Get, Header, Param, Query, UseFilters, UseGuards } from '@nestjs/common';
import { encodeNodeState } from '@netledger/model';
import {
  diffNodeStates,
  formatOverlayOps,
  renderDiffOverlay,
  renderDiffRestore,
  renderStateOverlay,
  renderStateListing,
  renderStateRestore,
} from '@netledger/planner-core';
import { z } from 'zod';
import { BearerAuthGuard, OwnNodeReadable } from './auth.guard';
import { ApiErrorFilter } from './error.filter';
import { NodeQueries } from './node-queries';
import { isoTime, label, nodeName, parseQuery, revision } from './params';

const stateQuery = z
  .object({
    revision: revision.optional(),
    at: isoTime.optional(),
    format: z
      .enum(['json', 'iptables', 'iptables-restore', 'ip6tables', 'ip6tables-restore', 'iproute2'])
      .default('json'),
  })
  .strict()
  .refine((q) => q.revision === undefined || q.at === undefined, 'give revision or at, not both');
const diffQuery = z
  .object({ from: revision, to: revision, format: z.enum(['json', 'host']).default('json') })
  .strict();
const explainQuery = z
  .object({
    family: z.enum(['IPv4', 'IPv6']).optional(),
    table: z.enum(['filter', 'nat']).optional(),
    chain: z
      .string()
      .regex(/^[A-Z0-9-]{1,28}$/)
      .optional(),
    rule: z.string().min(1).max(4096).optional(),
    route: label.optional(),
    neighbour: label.optional(),
    fdb: z
      .string()
      .regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/)
      .optional(),
  })
  .strict()
  .refine(
    (q) => [q.chain, q.route, q.neighbour, q.fdb].filter((x) => x !== undefined).length === 1,
    'give exactly one of chain (with table), route, neighbour, fdb',
  )
  .refine((q) => q.chain === undefined || q.table !== undefined, 'chain needs table');

/** Nodes: their revisions, their desired state now or then, diffs and explanations. */
@Controller('v1/nodes')
@UseGuards(BearerAuthGuard)
@UseFilters(ApiErrorFilter)
export class NodesController {
  constructor(private readonly queries: NodeQueries) {}

  @Get()
  async list() {
    return { nodes: await this.queries.nodes() };
  }

  @Get(':node/state')
  @OwnNodeReadable('param')
  async state(@Param('node') node: string, @Query() query: unknown) {
    const q = parseQuery(stateQuery, query);
    const at = await this.queries.state(nodeName(node), {
      ...(q.revision !== undefined ? { revision: q.revision } : {}),
      ...(q.at ? { time: q.at } : {}),
    });
    if (q.format === 'iptables') return renderStateListing(at.state);
    if (q.format === 'iptables-restore') return renderStateRestore(at.state);
    if (q.format === 'ip6tables') return renderStateListing(at.state, 'IPv6');
    if (q.format === 'ip6tables-restore') return renderStateRestore(at.state, 'IPv6');
    if (q.format === 'iproute2') return formatOverlayOps(renderStateOverlay(at.state));
    return { node, revision: at.revision, recordedAt: at.recordedAt, state: encodeNodeState(at.state) };
  }

  @Get(':node/diff')
  @Header('Cache-Control', 'no-store')
  async diff(@Param('node') node: string, @Query() query: unknown) {
    const q = parseQuery(diffQuery, query);
    const name = nodeName(node);
    const [from, to] = await Promise.all([
      this.queries.state(name, { revision: q.from }),
      this.queries.state(name, { revision: q.to }),
    ]);
    const diff = diffNodeStates(from.state, to.state);
    if (q.format === 'host') {
      const restore6 = renderDiffRestore(diff, from.state, 'IPv6');
      return `${renderDiffRestore(diff, from.state)}${restore6 ? `# ip6tables-restore --noflush\n${restore6}` : ''}${formatOverlayOps(renderDiffOverlay(from.state, diff))}`;
    }
    return { node, from: q.from, to: q.to, diff };
  }

  @Get(':node/explain')
  async explain(@Param('node') node: string, @Query() query: unknown) {
    const q = parseQuery(explainQuery, query);
    const selector = q.chain
      ? {
          ...(q.family ? { family: q.family } : {}),
          table: q.table!,
          chain: q.chain,
          ...(q.rule !== undefined ? { rule: q.rule } : {}),
        }
      : q.route
        ? { route: q.route }
        : q.neighbour
          ? { neighbour: q.neighbour }
          : { fdb: q.fdb! };
    return this.queries.explain(nodeName(node), selector);
  }
}
