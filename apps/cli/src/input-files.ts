import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import {
  NetledgerError,
  parseHostFacts,
  parseKubeProxyConfiguration,
  validateObjectReporting,
  type HostFacts,
  type KubeObject,
  type KubeProxyRelease,
  type ProxyConfig,
} from '@netledger/model';

/** Reads a YAML or JSON file (JSON is YAML); every document, as plain data. */
export function readDocuments(path: string): unknown[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new NetledgerError('INPUT.UNREADABLE_FILE', `${path}: cannot read: ${(cause as Error).message}`, {
      cause,
    });
  }
  const docs = parseAllDocuments(text, { uniqueKeys: false });
  const out: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      throw new NetledgerError('INPUT.MALFORMED_FILE', `${path}: ${e.message.split('\n')[0]}`);
    }
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value !== null && value !== undefined) out.push(value);
  }
  return out;
}

/**
 * The Kubernetes objects of a cluster file: a `List` (as `kubectl get -o yaml` prints it) or
 * several documents. Objects of other kinds are skipped; every invalid object is reported. An
 * element left out of an object (as kube-proxy leaves it out) is told to `warn`, the object kept.
 */
export function readClusterFile(path: string, warn: (line: string) => void = () => {}): KubeObject[] {
  const raws: unknown[] = [];
  for (const doc of readDocuments(path)) {
    const items =
      (doc as { kind?: unknown; items?: unknown }).kind === 'List'
        ? (doc as { items?: unknown }).items
        : [doc];
    if (!Array.isArray(items))
      throw new NetledgerError('INPUT.MALFORMED_FILE', `${path}: a List without items`);
    raws.push(...items);
  }
  const objects: KubeObject[] = [];
  const problems: string[] = [];
  for (const raw of raws) {
    const kind = (raw as { kind?: unknown } | null)?.kind;
    if (kind !== 'Service' && kind !== 'EndpointSlice' && kind !== 'Node') continue;
    try {
      const { object, dropped } = validateObjectReporting(raw);
      objects.push(object);
      const who = `${object.kind} ${object.kind === 'Node' ? '' : `${object.namespace}/`}${object.name}`;
      for (const d of dropped) warn(`${path}: ${who}: ${d.field} left out: ${d.reason}`);
    } catch (error) {
      problems.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (problems.length > 0) {
    throw new NetledgerError(
      'INPUT.INVALID_OBJECT',
      `${path}: ${problems.length} invalid object(s):\n  ${problems.join('\n  ')}`,
    );
  }
  return objects;
}

/** kube-proxy's own KubeProxyConfiguration file. */
export function readProxyConfig(path: string, release?: KubeProxyRelease): ProxyConfig {
  const docs = readDocuments(path);
  if (docs.length !== 1)
    throw new NetledgerError('INPUT.MALFORMED_FILE', `${path}: expected one KubeProxyConfiguration document`);
  return parseKubeProxyConfiguration(docs[0], release);
}

/** A host facts JSON file. */
export function readHostFacts(path: string, defaults: HostFacts): HostFacts {
  const docs = readDocuments(path);
  if (docs.length !== 1)
    throw new NetledgerError('INPUT.MALFORMED_FILE', `${path}: expected one JSON object`);
  return parseHostFacts(docs[0], defaults);
}
