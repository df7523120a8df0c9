import { z } from 'zod';
import { NetledgerError } from '../errors/netledger-error';
import { canonicalIp, canonicalIpSloppy, formatCidr, ipFamily, parseCidrSloppy } from '../net/ip';
import { isDns1035Label, isDns1123Label, isDns1123Subdomain } from './names';
import type { EndpointSlice, KubeObject, Node, Service } from './objects';

/*
 * Validation at the edge. Every value that can reach rendered iptables text or a host command is
 * checked here and re-rendered from its parsed form (canonical IPs and CIDRs, integers, enums,
 * names under Kubernetes' own rules), so no input can inject an argument, a quote or a line.
 *
 * Where kube-proxy takes an object and leaves out one bad element of it (an external IP, a source
 * range, an endpoint, an endpoint port, a node address), so does validation: the element is
 * dropped and reported (DroppedElement), the rest of the object is kept. IPs and CIDRs are read as
 * Kubernetes reads them (ParseIPSloppy: leading zeros in IPv4 are decimal).
 */

/** An element of an object left out, and why: the ingester records them with the object. */
export interface DroppedElement {
  readonly field: string;
  readonly reason: string;
}

const shown = (value: unknown) => {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
};

const cidr = z.string().transform((value, ctx) => {
  const parsed = parseCidrSloppy(value);
  if (!parsed) {
    ctx.addIssue({ code: 'custom', message: `${shown(value)} is not a CIDR` });
    return z.NEVER;
  }
  return formatCidr(parsed);
});

const named = (test: (v: string) => boolean, rule: string) =>
  z.string().refine(test, { error: (issue) => `${shown(issue.input)} is not a ${rule}` });

const dns1123Label = named(isDns1123Label, 'DNS-1123 label');
const dns1035Label = named(isDns1035Label, 'DNS-1035 label');
const dns1123Subdomain = named(isDns1123Subdomain, 'DNS-1123 subdomain');
const labelValue = z
  .string()
  .max(63)
  .regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/, 'not a label value');
const port = z.number().int().min(1, 'must be 1..65535').max(65535, 'must be 1..65535');
const optionalPort = z.number().int().min(0).max(65535).optional();
const protocol = z.enum(['TCP', 'UDP', 'SCTP'], {
  error: (i) => `${shown(i.input)} is not TCP, UDP or SCTP`,
});
const nullableBool = z.boolean().nullish();

const metadata = <N extends z.ZodType<string>>(nameRule: N, namespaced: boolean) =>
  z.object({
    name: nameRule,
    namespace: namespaced ? dns1123Label : z.string().optional(),
    uid: z.string().max(128).optional(),
    resourceVersion: z.string().max(64).optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  });

const serviceSchema = z.object({
  kind: z.literal('Service'),
  metadata: metadata(dns1035Label, true),
  spec: z.object({
    type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).default('ClusterIP'),
    clusterIP: z.string().optional(),
    clusterIPs: z.array(z.string()).optional(),
    ports: z
      .array(
        z.object({
          name: z.union([z.literal(''), dns1123Label]).default(''),
          protocol: protocol.default('TCP'),
          port,
          nodePort: optionalPort,
        }),
      )
      .default([]),
    externalIPs: z.array(z.unknown()).default([]),
    sessionAffinity: z.enum(['None', 'ClientIP']).default('None'),
    sessionAffinityConfig: z
      .object({
        clientIP: z.object({ timeoutSeconds: z.number().int().min(1).max(86400).optional() }).optional(),
      })
      .optional(),
    externalTrafficPolicy: z.enum(['Cluster', 'Local', 'Global']).optional(),
    internalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
    healthCheckNodePort: optionalPort,
    loadBalancerSourceRanges: z.array(z.unknown()).default([]),
  }),
  status: z
    .object({
      loadBalancer: z
        .object({
          ingress: z
            .array(
              z.object({
                ip: z.unknown().optional(),
                hostname: z.string().optional(),
                ipMode: z.enum(['VIP', 'Proxy']).optional(),
              }),
            )
            .optional(),
        })
        .optional(),
    })
    .optional(),
});

const endpointPortSchema = z.object({
  name: z.union([z.literal(''), dns1123Label]).nullish(),
  port: port.nullish(),
  protocol: protocol.default('TCP'),
});

const endpointSchema = z.object({
  addresses: z.array(z.string()),
  conditions: z.object({ ready: nullableBool, serving: nullableBool, terminating: nullableBool }).nullish(),
  nodeName: dns1123Subdomain.nullish(),
  zone: labelValue.nullish(),
  hints: z
    .object({
      forZones: z.array(z.object({ name: labelValue })).nullish(),
      forNodes: z.array(z.object({ name: dns1123Subdomain })).nullish(),
    })
    .nullish(),
});

const endpointSliceSchema = z.object({
  kind: z.literal('EndpointSlice'),
  metadata: metadata(dns1123Subdomain, true),
  addressType: z.enum(['IPv4', 'IPv6', 'FQDN']),
  // Elements are checked one by one: a bad one is dropped, as kube-proxy drops it.
  ports: z.array(z.unknown()).nullish(),
  endpoints: z.array(z.unknown()).nullish(),
});

const nodeSchema = z.object({
  kind: z.literal('Node'),
  metadata: metadata(dns1123Subdomain, false),
  spec: z.object({ podCIDR: cidr.optional(), podCIDRs: z.array(cidr).optional() }).default({}),
  status: z
    .object({ addresses: z.array(z.object({ type: z.string(), address: z.unknown() })).default([]) })
    .default({ addresses: [] }),
});

const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';
const MAC = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;
const FLANNEL_ANNOTATION_PREFIX = 'flannel.alpha.coreos.com/';

function fail(kind: string, raw: unknown, error: z.ZodError): never {
  const meta = (raw as { metadata?: { namespace?: unknown; name?: unknown } } | null)?.metadata;
  const namespace = typeof meta?.namespace === 'string' ? meta.namespace : undefined;
  const name = typeof meta?.name === 'string' ? meta.name : undefined;
  const issue = error.issues[0]!;
  const field = issue.path
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
  const who = `${kind} ${namespace ? `${shown(namespace).slice(1, -1)}/` : ''}${name ? shown(name).slice(1, -1) : '(unnamed)'}`;
  throw new NetledgerError('INPUT.INVALID_OBJECT', `${who}: ${field || '(object)'}: ${issue.message}`, {
    details: { kind, namespace, name, field, reason: issue.message },
  });
}

function issueText(error: z.ZodError): { field: string; message: string } {
  const issue = error.issues[0]!;
  const field = issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  return { field, message: issue.message };
}

/** Why an element is left out. */
class Drop {
  constructor(readonly reason: string) {}
}

/** Keeps the elements `check` accepts; the others are reported in `dropped` under `field[i]`. */
function keepValid<T, R>(
  items: readonly T[],
  field: string,
  dropped: DroppedElement[],
  check: (item: T) => R | Drop,
): R[] {
  const kept: R[] = [];
  items.forEach((item, i) => {
    const result = check(item);
    if (result instanceof Drop) dropped.push({ field: `${field}[${i}]`, reason: result.reason });
    else kept.push(result);
  });
  return kept;
}

const sloppyIp = (value: unknown): string | Drop =>
  (typeof value === 'string' ? canonicalIpSloppy(value) : undefined) ??
  new Drop(`${shown(value)} is not an IP address`);

function invalid(
  kind: string,
  meta: { namespace?: string; name: string },
  field: string,
  reason: string,
): never {
  const who = `${kind} ${meta.namespace ? `${meta.namespace}/` : ''}${meta.name}`;
  throw new NetledgerError('INPUT.INVALID_OBJECT', `${who}: ${field}: ${reason}`, {
    details: { kind, namespace: meta.namespace, name: meta.name, field, reason },
  });
}

/**
 * Validates a v1 Service as the apiserver serves it; throws INPUT.INVALID_OBJECT naming the field.
 * Bad external IPs, source ranges and ingress IPs are dropped into `dropped`, as kube-proxy drops them.
 */
export function validateService(raw: unknown, dropped: DroppedElement[] = []): Service {
  const parsed = serviceSchema.safeParse(raw);
  if (!parsed.success) fail('Service', raw, parsed.error);
  const { metadata: m, spec, status } = parsed.data;
  const meta = { namespace: m.namespace as string, name: m.name };
  const ipTexts = spec.clusterIPs ?? (spec.clusterIP !== undefined ? [spec.clusterIP] : []);
  const headless =
    ipTexts.length === 0 || ipTexts[0] === 'None' || ipTexts[0] === '' || spec.type === 'ExternalName';
  const clusterIPs = headless
    ? []
    : ipTexts.map(
        (text, i) =>
          canonicalIpSloppy(text) ??
          invalid('Service', meta, `spec.clusterIPs[${i}]`, `${shown(text)} is not an IP address`),
      );
  const ports = spec.ports.map((p) => ({
    ...p,
    nodePort: spec.type === 'NodePort' || spec.type === 'LoadBalancer' ? (p.nodePort ?? 0) : 0,
  }));
  const seen = new Set<string>();
  for (const [i, p] of ports.entries()) {
    if (ports.length > 1 && p.name === '')
      invalid('Service', meta, `spec.ports[${i}].name`, 'required when a Service has several ports');
    if (seen.has(p.name))
      invalid('Service', meta, `spec.ports[${i}].name`, `duplicate port name ${shown(p.name)}`);
    seen.add(p.name);
  }
  return {
    kind: 'Service',
    ...meta,
    ...(m.uid !== undefined ? { uid: m.uid } : {}),
    ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
    type: spec.type,
    clusterIPs,
    ports,
    externalIPs: keepValid(spec.externalIPs, 'spec.externalIPs', dropped, sloppyIp),
    sessionAffinity: spec.sessionAffinity,
    sessionAffinityTimeoutSeconds: spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? 10800,
    externalTrafficPolicy: spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    internalTrafficPolicy: spec.internalTrafficPolicy ?? 'Cluster',
    healthCheckNodePort: spec.healthCheckNodePort ?? 0,
    loadBalancerSourceRanges: keepValid(
      spec.loadBalancerSourceRanges,
      'spec.loadBalancerSourceRanges',
      dropped,
      (text) => {
        const parsed = typeof text === 'string' ? parseCidrSloppy(text) : undefined;
        return parsed ? formatCidr(parsed) : new Drop(`${shown(text)} is not a CIDR`);
      },
    ),
    loadBalancerIngress: keepValid(
      (status?.loadBalancer?.ingress ?? []).filter((ing) => ing.ip !== undefined && ing.ip !== ''),
      'status.loadBalancer.ingress',
      dropped,
      (ing) => {
        const ip = sloppyIp(ing.ip);
        return ip instanceof Drop ? ip : { ip, ipMode: ing.ipMode ?? 'VIP' };
      },
    ),
  };
}

/**
 * Validates a discovery.k8s.io/v1 EndpointSlice; throws INPUT.INVALID_OBJECT naming the field.
 * A bad endpoint or port is dropped into `dropped` and the rest kept: kube-proxy skips an
 * endpoint without addresses and a port without a name or number.
 */
export function validateEndpointSlice(raw: unknown, dropped: DroppedElement[] = []): EndpointSlice {
  const parsed = endpointSliceSchema.safeParse(raw);
  if (!parsed.success) fail('EndpointSlice', raw, parsed.error);
  const { metadata: m, addressType } = parsed.data;
  const meta = { namespace: m.namespace as string, name: m.name };
  const serviceName = m.labels?.[SERVICE_NAME_LABEL] ?? null;
  if (serviceName !== null && !isDns1035Label(serviceName)) {
    invalid(
      'EndpointSlice',
      meta,
      `metadata.labels.${SERVICE_NAME_LABEL}`,
      `${shown(serviceName)} is not a Service name`,
    );
  }
  const address = (text: string): string | undefined => {
    if (addressType === 'FQDN') return isDns1123Subdomain(text) ? text : undefined;
    const canonical = canonicalIpSloppy(text);
    return canonical !== undefined && (addressType === 'IPv4') === !canonical.includes(':')
      ? canonical
      : undefined;
  };
  const endpoints = keepValid(parsed.data.endpoints ?? [], 'endpoints', dropped, (item) => {
    const ep = endpointSchema.safeParse(item);
    if (!ep.success) {
      const { field, message } = issueText(ep.error);
      return new Drop(`${field.replace(/^\./, '')}: ${message}`);
    }
    if (ep.data.addresses.length === 0) return new Drop('no address (kube-proxy skips it)');
    // kube-proxy uses the first address: an endpoint whose first address is bad is left out.
    const addresses = ep.data.addresses.map(address);
    if (addresses[0] === undefined)
      return new Drop(
        `addresses[0]: ${shown(ep.data.addresses[0])} is not an ${addressType === 'FQDN' ? 'DNS name' : `${addressType} address`}`,
      );
    return {
      addresses: addresses.filter((a): a is string => a !== undefined),
      ready: ep.data.conditions?.ready ?? null,
      serving: ep.data.conditions?.serving ?? null,
      terminating: ep.data.conditions?.terminating ?? null,
      nodeName: ep.data.nodeName ?? null,
      zone: ep.data.zone ?? null,
      hintsForZones: (ep.data.hints?.forZones ?? []).map((z) => z.name),
      hintsForNodes: (ep.data.hints?.forNodes ?? []).map((n) => n.name),
    };
  });
  const ports = keepValid(parsed.data.ports ?? [], 'ports', dropped, (item) => {
    const p = endpointPortSchema.safeParse(item);
    if (!p.success) {
      const { field, message } = issueText(p.error);
      return new Drop(`${field.replace(/^\./, '')}: ${message}`);
    }
    return { name: p.data.name ?? null, port: p.data.port ?? null, protocol: p.data.protocol };
  });
  return {
    kind: 'EndpointSlice',
    ...meta,
    ...(m.uid !== undefined ? { uid: m.uid } : {}),
    ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
    serviceName,
    addressType,
    ports,
    endpoints,
  };
}

/** Validates a v1 Node; throws INPUT.INVALID_OBJECT naming the field. A bad address is dropped. */
export function validateNode(raw: unknown, dropped: DroppedElement[] = []): Node {
  const parsed = nodeSchema.safeParse(raw);
  if (!parsed.success) fail('Node', raw, parsed.error);
  const { metadata: m, spec, status } = parsed.data;
  const addresses = keepValid(status.addresses, 'status.addresses', dropped, (a) => {
    // Only the IP types are read (a Hostname address is a name).
    if (a.type !== 'InternalIP' && a.type !== 'ExternalIP') return { type: a.type, address: '' };
    const address = sloppyIp(a.address);
    return address instanceof Drop ? address : { type: a.type, address };
  }).filter((a) => a.type === 'InternalIP' || a.type === 'ExternalIP');
  const annotations = Object.fromEntries(
    Object.entries(m.annotations ?? {}).filter(([key]) => key.startsWith(FLANNEL_ANNOTATION_PREFIX)),
  );
  const meta = { name: m.name };
  const ipAnnotation = (key: string) => {
    const text = annotations[`${FLANNEL_ANNOTATION_PREFIX}${key}`];
    if (text === undefined) return null;
    return (
      canonicalIp(text) ??
      invalid(
        'Node',
        meta,
        `metadata.annotations.${FLANNEL_ANNOTATION_PREFIX}${key}`,
        `${shown(text)} is not an IP address`,
      )
    );
  };
  const flannelPublicIp = ipAnnotation('public-ip-overwrite') ?? ipAnnotation('public-ip');
  const flannelPublicIpv6 = ipAnnotation('public-ipv6-overwrite') ?? ipAnnotation('public-ipv6');
  if (flannelPublicIpv6 !== null && ipFamily(flannelPublicIpv6) !== 'IPv6') {
    invalid(
      'Node',
      meta,
      `metadata.annotations.${FLANNEL_ANNOTATION_PREFIX}public-ipv6`,
      `${shown(flannelPublicIpv6)} is not an IPv6 address`,
    );
  }
  /** The VtepMAC of one of flannel's backend-data annotations (IPv4's, or IPv6's backend-v6-data). */
  const vtepMac = (key: string): string | null => {
    const data = annotations[`${FLANNEL_ANNOTATION_PREFIX}${key}`];
    if (data === undefined || data === '' || data === 'null') return null;
    let mac: unknown;
    try {
      mac = (JSON.parse(data) as { VtepMAC?: unknown } | null)?.VtepMAC;
    } catch {
      mac = undefined;
    }
    if (typeof mac !== 'string' || !MAC.test(mac)) {
      invalid(
        'Node',
        meta,
        `metadata.annotations.${FLANNEL_ANNOTATION_PREFIX}${key}`,
        `${shown(data)} has no valid VtepMAC`,
      );
    }
    return mac.toLowerCase();
  };
  const flannelVtepMac = vtepMac('backend-data');
  const flannelV6VtepMac = vtepMac('backend-v6-data');
  return {
    kind: 'Node',
    name: m.name,
    flannelPublicIp,
    flannelVtepMac,
    ...(flannelPublicIpv6 !== null ? { flannelPublicIpv6 } : {}),
    ...(flannelV6VtepMac !== null ? { flannelV6VtepMac } : {}),
    ...(m.uid !== undefined ? { uid: m.uid } : {}),
    ...(m.resourceVersion !== undefined ? { resourceVersion: m.resourceVersion } : {}),
    labels: m.labels ?? {},
    annotations,
    podCIDRs: spec.podCIDRs ?? (spec.podCIDR !== undefined ? [spec.podCIDR] : []),
    addresses,
  };
}

/** Validates any object Netledger reads, dispatching on `kind`; dropped elements are not reported. */
export function validateObject(raw: unknown): KubeObject {
  return validateObjectReporting(raw).object;
}

/** validateObject, with the elements it dropped (each field and why). */
export function validateObjectReporting(raw: unknown): { object: KubeObject; dropped: DroppedElement[] } {
  const dropped: DroppedElement[] = [];
  const kind = (raw as { kind?: unknown } | null)?.kind;
  switch (kind) {
    case 'Service':
      return { object: validateService(raw, dropped), dropped };
    case 'EndpointSlice':
      return { object: validateEndpointSlice(raw, dropped), dropped };
    case 'Node':
      return { object: validateNode(raw, dropped), dropped };
    default:
      throw new NetledgerError(
        'INPUT.UNSUPPORTED_KIND',
        `kind ${shown(kind)} is not one Netledger reads (Node, Service, EndpointSlice)`,
        {
          details: { kind },
        },
      );
  }
}
