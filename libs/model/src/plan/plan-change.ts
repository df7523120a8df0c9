import { hash } from 'node:crypto';
import { z } from 'zod';
import { NetledgerError } from '../errors/netledger-error';
import type { OverlayConfig } from '../proxy/net-conf';
import type { Cidr } from '../net/ip';
import type { ChainEntry, ConntrackDeletion, JumpEntry, VxlanDevice } from '../state/node-state';

/*
 * The plan as the ledger, the wire and the API hold it: shared, content-addressed fragments, a
 * few shared tables that name them, and per node a small manifest. A change records once what
 * changed in any of them; nothing is stored or sent once per node.
 *
 *   fragment  (digest)  a service port's rules and chains, a profile's fixed rules, a peer's
 *                       overlay entries: the same value on every node that holds it
 *   table     (key)     service port -> fragment, shared by every node of one service profile
 *   peers               node -> its overlay entries' fragment, shared by every node
 *   manifest  (node)    which table and fixed rules it takes, its few own service fragments
 *                       (overrides), its own overlay device and rules
 */

/** What a fragment holds. */
export type FragmentKind = 'service' | 'fixed' | 'peer';

/** A fragment's content address: the first 128 bits of sha256 over its kind and JSON, in hex. */
export type Digest = string;

/** The digest of a fragment of `kind` whose JSON is `json` (exactly as stored and sent). */
export function fragmentDigest(kind: FragmentKind, json: string): Digest {
  return hash('sha256', `${kind}\n${json}`, 'hex').slice(0, 32);
}

const ruleList = z.array(z.string());
const chain = z.object({ name: z.string(), rules: ruleList });
const table = z.enum(['filter', 'nat']);
const cidr = z.object({ address: z.string(), prefix: z.number().int(), family: z.enum(['IPv4', 'IPv6']) });

export const serviceFragmentSchema = z.object({
  portName: z.string(),
  filterServices: ruleList,
  filterExternalServices: ruleList,
  filterProxyFirewall: ruleList,
  filterNodePorts: ruleList,
  natServices: ruleList,
  natNodePorts: ruleList,
  natChains: z.array(chain),
});

export const fixedRulesSchema = z.object({
  filterChainOrder: z.array(z.string()),
  natChainOrder: z.array(z.string()),
  filterFirewall: ruleList,
  filterForward: ruleList,
  natPostrouting: ruleList,
  natMarkMasq: ruleList,
  natServicesTail: ruleList,
  builtinJumps: z.array(z.object({ table, chain: z.string(), rule: z.string() })),
});

const overlayNode = z.object({
  name: z.string(),
  subnet: cidr,
  publicIp: z.string(),
  vtepMac: z.string(),
  underlayMtu: z.number().int(),
  underlaySubnet: cidr.optional(),
});
const route = z.object({ dst: z.string(), via: z.string(), dev: z.string().nullable(), onlink: z.boolean() });
const neighbour = z.object({ dev: z.string(), ip: z.string(), lladdr: z.string() });
const fdb = z.object({ dev: z.string(), mac: z.string(), dst: z.string() });

export const peerEntriesSchema = z.object({
  node: overlayNode,
  route,
  neighbour,
  fdb,
  directRoute: route,
});

const digest = z.string().regex(/^[0-9a-f]{32}$/, 'a 32-digit hex digest');
const pairs = z.array(z.tuple([z.string(), digest]));

/** The node's own overlay: its lease (self), its VXLAN device and flannel's rules for its subnet. */
const overlayOwnSchema = z.object({
  self: overlayNode,
  device: z.object({
    name: z.string(),
    vni: z.number().int(),
    port: z.number().int(),
    localIp: z.string(),
    mac: z.string(),
    mtu: z.number().int(),
    address: z.string(),
    learning: z.boolean(),
    gbp: z.boolean(),
  }),
  chains: z.array(z.object({ table, chain: z.string(), rules: ruleList })),
  jumps: z.array(
    z.object({ table, chain: z.string(), rule: z.string(), position: z.enum(['prepend', 'append']) }),
  ),
});

export const nodeManifestSchema = z.object({
  node: z.string().min(1),
  /** The service table the node takes (its profile's service key). */
  services: z.string(),
  /** Digest of its fixed rules. */
  fixed: digest,
  /** Service ports whose fragment on this node differs from the table's, sorted by port. */
  overrides: pairs,
  overlay: overlayOwnSchema.nullable(),
});

const overlayConfigSchema = z.object({
  network: z.string(),
  vni: z.number().int(),
  port: z.number().int(),
  mtu: z.number().int().nullable(),
  gbp: z.boolean(),
  directRouting: z.boolean(),
  ipMasq: z.boolean(),
  forwardRules: z.boolean(),
});

const conntrackSchema = z.object({
  protocol: z.literal('udp'),
  origDst: z.string().optional(),
  origPortDst: z.number().int().optional(),
  replySrc: z.string().optional(),
});

export const planChangeSchema = z.object({
  /** The plan revision this change makes; it applies on top of revision - 1. */
  revision: z.number().int().positive(),
  /** Present when the overlay configuration changed (and at revision 1). */
  overlayConfig: overlayConfigSchema.optional(),
  /** Entries set or removed per service table; a table not known yet starts empty. */
  tables: z.array(z.object({ key: z.string(), set: pairs, delete: z.array(z.string()) })),
  /** Tables no node takes any more. */
  dropTables: z.array(z.string()),
  peers: z.object({ set: pairs, delete: z.array(z.string()) }),
  manifests: z.object({
    /** Whole manifests: new nodes, and nodes whose profile or own overlay changed. */
    set: z.array(nodeManifestSchema),
    /** Only the overrides of a node changed. */
    overrides: z.array(z.object({ node: z.string(), set: pairs, delete: z.array(z.string()) })),
    delete: z.array(z.string()),
  }),
  /** UDP flows every node must forget once its rules are in place. */
  conntrack: z.array(conntrackSchema),
  /**
   * Fragments whose bodies come with the change (stored beside it, sent with it): those it is the
   * first to name, and every one a manifest or an override names, since a consumer that keeps
   * one node's manifest (an executor) holds the shared tables and peers but not what other
   * nodes' manifests name.
   */
  fragments: z.array(digest),
});

export type ServiceFragmentJson = z.infer<typeof serviceFragmentSchema>;
export type FixedRulesJson = z.infer<typeof fixedRulesSchema>;
export type PeerEntriesJson = z.infer<typeof peerEntriesSchema>;

/** A node's overlay lease as the overlay planner sees it (planner-core's OverlayNode). */
export interface OverlayLease {
  readonly name: string;
  readonly subnet: Cidr;
  readonly publicIp: string;
  readonly vtepMac: string;
  readonly underlayMtu: number;
  readonly underlaySubnet?: Cidr | undefined;
}

/** The node's own overlay: its lease, its VXLAN device, flannel's rules for its subnet. */
export type OverlayOwn = {
  readonly self: OverlayLease;
  readonly device: VxlanDevice;
  readonly chains: readonly ChainEntry[];
  readonly jumps: readonly JumpEntry[];
} | null;

/** A node's manifest (see the top of this file). */
export interface NodeManifest {
  readonly node: string;
  /** The service table the node takes (its profile's service key). */
  readonly services: string;
  /** Digest of its fixed rules. */
  readonly fixed: Digest;
  /** Service ports whose fragment on this node differs from the table's, sorted by port. */
  readonly overrides: readonly (readonly [string, Digest])[];
  readonly overlay: OverlayOwn;
}

/** Entries set (key -> digest) and removed (by key). */
export interface DigestChanges {
  readonly set: readonly (readonly [string, Digest])[];
  readonly delete: readonly string[];
}

/** One change of the plan (see the top of this file). */
export interface PlanChange {
  readonly revision: number;
  readonly overlayConfig?: OverlayConfig;
  readonly tables: readonly (DigestChanges & { readonly key: string })[];
  readonly dropTables: readonly string[];
  readonly peers: DigestChanges;
  readonly manifests: {
    readonly set: readonly NodeManifest[];
    readonly overrides: readonly (DigestChanges & { readonly node: string })[];
    readonly delete: readonly string[];
  };
  readonly conntrack: readonly ConntrackDeletion[];
  readonly fragments: readonly Digest[];
}

/** A fragment's body, validated against its kind (planner-core's fragment values have these shapes). */
export type FragmentBody = ServiceFragmentJson | FixedRulesJson | PeerEntriesJson;

const fragmentSchemas = {
  service: serviceFragmentSchema,
  fixed: fixedRulesSchema,
  peer: peerEntriesSchema,
} as const;

function invalid(what: string, error: z.ZodError): never {
  const issue = error.issues[0];
  const where = issue?.path.join('.') ?? '';
  throw new NetledgerError('MESSAGE.INVALID', `${what}: ${where ? `${where}: ` : ''}${issue?.message}`, {
    details: {
      issues: error.issues.slice(0, 5).map((i) => ({ path: i.path.join('.'), message: i.message })),
    },
  });
}

/** Validates a plan change read from Kafka, HTTP or the ledger; throws MESSAGE.INVALID. */
export function parsePlanChange(json: unknown): PlanChange {
  const result = planChangeSchema.safeParse(json);
  if (!result.success) invalid('plan change', result.error);
  return result.data;
}

/** Validates a fragment's body against its kind; throws MESSAGE.INVALID. */
export function parseFragment(kind: string, body: unknown): FragmentBody {
  const schema = fragmentSchemas[kind as FragmentKind] as z.ZodType | undefined;
  if (!schema) throw new NetledgerError('MESSAGE.INVALID', `fragment: unknown kind ${JSON.stringify(kind)}`);
  const result = schema.safeParse(body);
  if (!result.success) invalid(`${kind} fragment`, result.error);
  return result.data as FragmentBody;
}

/** Validates a node manifest; throws MESSAGE.INVALID. */
export function parseNodeManifest(json: unknown): NodeManifest {
  const result = nodeManifestSchema.safeParse(json);
  if (!result.success) invalid('node manifest', result.error);
  return result.data;
}
