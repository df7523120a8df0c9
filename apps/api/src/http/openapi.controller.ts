import { Controller, Get } from '@nestjs/common';

const nodeParam = { name: 'node', in: 'path', required: true, schema: { type: 'string' } };
const secured = {
  security: [{ bearer: [] }],
  responses: {
    '400': { $ref: '#/components/responses/Error' },
    '401': { $ref: '#/components/responses/Error' },
  },
};

/** The OpenAPI document of the API (open, like health). */
export const OPENAPI = {
  openapi: '3.1.0',
  info: { title: 'Netledger network-state API', version: '1' },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
    responses: {
      Error: {
        description: 'An error',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: { error: { type: 'string' }, message: { type: 'string' } },
              required: ['error', 'message'],
            },
          },
        },
      },
    },
  },
  paths: {
    '/v1/nodes': {
      get: { summary: 'Nodes with desired revision, applied revision, lag and health', ...secured },
    },
    '/v1/nodes/{node}/state': {
      get: {
        summary:
          "A node's desired state now, at a revision, or at a time (as formats: iptables-save text with the built-in chains' jumps, kube-proxy's iptables-restore input, iproute2 lines)",
        parameters: [
          nodeParam,
          { name: 'revision', in: 'query', schema: { type: 'integer', minimum: 0 } },
          { name: 'at', in: 'query', schema: { type: 'string', format: 'date-time' } },
          {
            name: 'format',
            in: 'query',
            schema: { enum: ['json', 'iptables', 'iptables-restore', 'iproute2'] },
          },
        ],
        ...secured,
      },
    },
    '/v1/nodes/{node}/diff': {
      get: {
        summary: 'The diff between two revisions of a node (json, or the host operations)',
        parameters: [
          nodeParam,
          { name: 'from', in: 'query', required: true, schema: { type: 'integer' } },
          { name: 'to', in: 'query', required: true, schema: { type: 'integer' } },
          { name: 'format', in: 'query', schema: { enum: ['json', 'host'] } },
        ],
        ...secured,
      },
    },
    '/v1/nodes/{node}/explain': {
      get: {
        summary:
          'Which cluster events (objects, resourceVersions) made a rule, route, neighbour or FDB entry, and when',
        parameters: [
          nodeParam,
          ...['table', 'chain', 'rule', 'route', 'neighbour', 'fdb'].map((name) => ({
            name,
            in: 'query',
            schema: { type: 'string' },
          })),
        ],
        ...secured,
      },
    },
    '/v1/plan': {
      get: {
        summary:
          'The plan now: its revision, when it was recorded, and how many fragments, tables, nodes and peers it holds',
        ...secured,
      },
    },
    '/v1/plan/snapshot': {
      get: {
        summary:
          "What a node's executor starts from: the shared tables and peers, the node's manifest and the fragments they name, as one plan message",
        parameters: [{ name: 'node', in: 'query', required: true, schema: { type: 'string' } }],
        ...secured,
      },
    },
    '/v1/audit': {
      get: {
        summary:
          'Events by time range, node, object and type, rejected inputs included; cursor pagination in global position order',
        parameters: ['from', 'to', 'node', 'kind', 'namespace', 'name', 'type', 'limit', 'cursor'].map(
          (name) => ({ name, in: 'query', schema: { type: name === 'limit' ? 'integer' : 'string' } }),
        ),
        ...secured,
      },
    },
    '/v1/admin/projections/rebuild': {
      post: { summary: 'Rebuild the projections from position 0 (admin token)', ...secured },
    },
    '/healthz': { get: { summary: 'Liveness' } },
    '/readyz': { get: { summary: 'Readiness: PostgreSQL, Kafka, projections caught up' } },
    '/metrics': { get: { summary: 'Prometheus metrics' } },
  },
} as const;

@Controller()
export class OpenApiController {
  @Get('openapi.json')
  document() {
    return OPENAPI;
  }
}
