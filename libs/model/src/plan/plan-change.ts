import { hash } from 'node:crypto';
import { z } from 'zod';
import { NetledgerError } from '../errors/netledger-error';
import type { OverlayConfig } from '../proxy/net-conf';
import { canonicalIp, parseCidr, type Cidr } from '../net/ip';
import { isDns1123Subdomain } from '../kube/names';
import { hasControlCharacter } from '../text/control-characters';
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

/*
 * An executor renders these values into iptables-restore and `ip -batch` input, so each field is
 * held to what it can be, not only to its type: a line of text holds no control character (a
 * newline would add a line of the executor's choosing, or another command), addresses are IP
 * addresses, devices and chains are names. The planner only ever makes such values; these checks
 * are what stops anything else, whoever wrote it.
 */
const line = z
  .string()
  .max(4096)
  .refine((s) => !hasControlCharacter(s), 'holds a control character');
const ruleList = z.array(line);
const chainName = z.string().regex(/^[A-Za-z0-9_-]{1,28}$/, 'an iptables chain name');
const deviceName = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'a network device name');
const mac = z.string().regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i, 'a MAC address');
const ip = z.string().refine((s) => canonicalIp(s) !== undefined, 'an IP address');
const cidrText = z.string().refine((s) => parseCidr(s) !== undefined, 'an IP prefix (address/length)');
const nodeName = z.string().refine(isDns1123Subdomain, 'a Kubernetes node name');
const port = z.number().int().min(0).max(65535);
const mtu = z.number().int().min(0).max(65535);
const chain = z.object({ name: chainName, rules: ruleList });
const table = z.enum(['filter', 'nat']);
const ipv6 = z.literal('IPv6');
const cidr = z.object({
  address: ip,
  prefix: z.number().int().min(0).max(128),
  family: z.enum(['IPv4', 'IPv6']),
});

export const serviceFragmentSchema = z.object({
  portName: line,
  filterServices: ruleList,
  filterExternalServices: ruleList,
  filterProxyFirewall: ruleList,
  filterNodePorts: ruleList,
  natServices: ruleList,
  natNodePorts: ruleList,
  natChains: z.array(chain),
});

export const fixedRulesSchema = z.object({
  filterChainOrder: z.array(chainName),
  natChainOrder: z.array(chainName),
  filterFirewall: ruleList,
  filterForward: ruleList,
  natPostrouting: ruleList,
  natMarkMasq: ruleList,
  natServicesTail: ruleList,
  builtinJumps: z.array(z.object({ table, chain: chainName, rule: line })),
});

const overlayNode = z.object({
  name: nodeName,
  subnet: cidr,
  publicIp: ip,
  vtepMac: mac,
  underlayMtu: mtu,
  underlaySubnet: cidr.optional(),
  deviceIp: ip.optional(),
  ipv6: z
    .object({
      subnet: cidr,
      publicIp: ip,
      vtepMac: mac,
      underlaySubnet: cidr.optional(),
      deviceIp: ip.optional(),
    })
    .optional(),
});
const route = z.object({ dst: cidrText, via: ip, dev: deviceName.nullable(), onlink: z.boolean() });
const neighbour = z.object({ dev: deviceName, ip, lladdr: mac });
const fdb = z.object({ dev: deviceName, mac, dst: ip });

export const peerEntriesSchema = z.object({
  node: overlayNode,
  route,
  neighbour,
  fdb,
  directRoute: route,
  ipv6: z.object({ route, neighbour, fdb, directRoute: route }).optional(),
});

const digest = z.string().regex(/^[0-9a-f]{32}$/, 'a 32-digit hex digest');
const pairs = z.array(z.tuple([line, digest]));

/** The node's own overlay: its lease (self), its VXLAN device and flannel's rules for its subnet. */
const vxlanDevice = z.object({
  name: deviceName,
  vni: z.number().int().min(0).max(16_777_215),
  port,
  localIp: ip,
  mac,
  mtu,
  address: cidrText,
  learning: z.boolean(),
  gbp: z.boolean(),
});
const overlayOwnSchema = z.object({
  self: overlayNode,
  device: vxlanDevice,
  /** The flannel-v6 device, on a dual-stack overlay. */
  device6: vxlanDevice.optional(),
  chains: z.array(z.object({ family: ipv6.optional(), table, chain: chainName, rules: ruleList })),
  jumps: z.array(
    z.object({
      family: ipv6.optional(),
      table,
      chain: chainName,
      rule: line,
      position: z.enum(['prepend', 'append']),
    }),
  ),
});

export const nodeManifestSchema = z.object({
  node: nodeName,
  /** The service table the node takes (its profile's service key). */
  services: line,
  /** Digest of its fixed rules. */
  fixed: digest,
  /** Service ports whose fragment on this node differs from the table's, sorted by port. */
  overrides: pairs,
  overlay: overlayOwnSchema.nullable(),
  /** kube-proxy's IPv6 proxier on this node (absent on a node without IPv6). */
  ipv6: z.object({ services: line, fixed: digest, overrides: pairs }).optional(),
});

const overlayConfigSchema = z.object({
  network: cidrText,
  ipv6Network: cidrText.optional(),
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
  origDst: ip.optional(),
  origPortDst: port.optional(),
  replySrc: ip.optional(),
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
    overrides: z.array(
      z.object({ node: nodeName, family: ipv6.optional(), set: pairs, delete: z.array(line) }),
    ),
    delete: z.array(nodeName),
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
  /**
   * The address the node's own VXLAN device sends from, where it is not publicIp: with flannel's
   * public-ip-overwrite, peers send to the overwrite, but flannel's device keeps the node's own
   * (interface) address as its local address.
   */
  readonly deviceIp?: string | undefined;
  /** Its IPv6 lease, on a dual-stack overlay (flannel's flannel-v6 device, backend-v6-data). */
  readonly ipv6?: OverlayLease6 | undefined;
}

/** A node's IPv6 overlay lease: its IPv6 pod subnet, public IPv6 and flannel-v6 VTEP MAC. */
export interface OverlayLease6 {
  readonly subnet: Cidr;
  readonly publicIp: string;
  readonly vtepMac: string;
  readonly underlaySubnet?: Cidr | undefined;
  readonly deviceIp?: string | undefined;
}

/** The node's own overlay: its lease, its VXLAN device(s), flannel's rules for its subnet(s). */
export type OverlayOwn = {
  readonly self: OverlayLease;
  readonly device: VxlanDevice;
  readonly device6?: VxlanDevice;
  readonly chains: readonly ChainEntry[];
  readonly jumps: readonly JumpEntry[];
} | null;

/** What a node takes of one kube-proxy proxier (one IP family). */
export interface ProxierManifest {
  /** The service table the node takes (its profile's service key). */
  readonly services: string;
  /** Digest of its fixed rules. */
  readonly fixed: Digest;
  /** Service ports whose fragment on this node differs from the table's, sorted by port. */
  readonly overrides: readonly (readonly [string, Digest])[];
}

/**
 * A node's manifest (see the top of this file): its IPv4 proxier's part at the top level, its IPv6
 * proxier's (table keys prefixed "ipv6/") under `ipv6` on a node that has IPv6.
 */
export interface NodeManifest extends ProxierManifest {
  readonly node: string;
  readonly overlay: OverlayOwn;
  readonly ipv6?: ProxierManifest;
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
    readonly overrides: readonly (DigestChanges & { readonly node: string; readonly family?: 'IPv6' })[];
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
