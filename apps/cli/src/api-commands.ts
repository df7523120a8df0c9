import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetledgerError } from '@netledger/model';

/** Where the API is and the token to use: flags, else NETLEDGER_API / NETLEDGER_TOKEN, else the demo's. */
export function apiTarget(flags: { api?: string; token?: string }): { url: string; token: string } {
  const url = flags.api ?? process.env.NETLEDGER_API ?? 'http://127.0.0.1:8080';
  const demoToken = join(__dirname, '..', '..', '..', '.run', 'api-token');
  const token =
    flags.token ??
    process.env.NETLEDGER_TOKEN ??
    (existsSync(demoToken) ? readFileSync(demoToken, 'utf8').trim() : undefined);
  if (!token)
    throw new NetledgerError('INPUT.INVALID_ARGUMENT', 'no API token: give --token or NETLEDGER_TOKEN');
  return { url: url.replace(/\/$/, ''), token };
}

/** GET (or POST) one API path; a non-2xx answer becomes an error with the API's message. */
export async function callApi(
  target: { url: string; token: string },
  path: string,
  method = 'GET',
): Promise<string> {
  let res: Response;
  try {
    res = await fetch(`${target.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${target.token}` },
    });
  } catch (cause) {
    throw new NetledgerError(
      'API.UNREACHABLE',
      `cannot reach the API at ${target.url}: ${(cause as Error).message}`,
      { cause },
    );
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? text;
    } catch {
      // not JSON
    }
    throw new NetledgerError('API.ERROR', `${res.status}: ${message}`);
  }
  return text;
}

const q = (params: Record<string, string | undefined>) => {
  const s = new URLSearchParams(
    Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined),
  ).toString();
  return s ? `?${s}` : '';
};

/** `netledger nodes`: a table of nodes, revisions and health. */
export async function nodesCommand(target: { url: string; token: string }): Promise<string> {
  const { nodes } = JSON.parse(await callApi(target, '/v1/nodes')) as {
    nodes: {
      name: string;
      desiredRevision: number;
      appliedRevision: number | null;
      lag: number | null;
      health: string;
      lastError: string | null;
    }[];
  };
  const rows = [
    ['NODE', 'DESIRED', 'APPLIED', 'LAG', 'HEALTH', 'ERROR'],
    ...nodes.map((n) => [
      n.name,
      String(n.desiredRevision),
      String(n.appliedRevision ?? '-'),
      String(n.lag ?? '-'),
      n.health,
      n.lastError ?? '',
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return `${rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

export const stateCommand = (
  target: { url: string; token: string },
  node: string,
  o: { revision?: string; at?: string; format?: string },
) =>
  callApi(
    target,
    `/v1/nodes/${encodeURIComponent(node)}/state${q({ revision: o.revision, at: o.at, format: o.format ?? 'iptables' })}`,
  );

export const diffApiCommand = (
  target: { url: string; token: string },
  node: string,
  o: { from: string; to: string; format?: string },
) =>
  callApi(
    target,
    `/v1/nodes/${encodeURIComponent(node)}/diff${q({ from: o.from, to: o.to, format: o.format ?? 'host' })}`,
  );

export const explainCommand = (
  target: { url: string; token: string },
  node: string,
  o: Record<string, string | undefined>,
) =>
  callApi(target, `/v1/nodes/${encodeURIComponent(node)}/explain${q(o)}`).then(
    (t) => `${JSON.stringify(JSON.parse(t), null, 2)}\n`,
  );

export const auditCommand = (target: { url: string; token: string }, o: Record<string, string | undefined>) =>
  callApi(target, `/v1/audit${q(o)}`).then((t) => `${JSON.stringify(JSON.parse(t), null, 2)}\n`);
