import { NetledgerError, type NodeSnapshot, type NodeStateJson } from '@netledger/model';

/**
 * A node's latest desired state from the Netledger API (`GET /v1/nodes/{node}/state`). The
 * executor's resync source for states too large for node-snapshots (see SNAPSHOT_MAX_BYTES).
 */
export class ApiStateSource {
  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
    private readonly node: string,
    private readonly timeoutMs = 60_000,
  ) {}

  /** The node's latest state, or undefined when the API knows no such node yet. */
  async latest(): Promise<NodeSnapshot | undefined> {
    const res = await fetch(
      `${this.url.replace(/\/$/, '')}/v1/nodes/${encodeURIComponent(this.node)}/state`,
      {
        headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
        signal: AbortSignal.timeout(this.timeoutMs),
      },
    );
    if (res.status === 404) return undefined;
    if (!res.ok) {
      throw new NetledgerError('API.ERROR', `the API answered ${res.status} for ${this.node}'s state`);
    }
    const body = (await res.json()) as { node?: unknown; revision?: unknown; state?: unknown };
    if (body.node !== this.node || !Number.isSafeInteger(body.revision) || typeof body.state !== 'object') {
      throw new NetledgerError('API.ERROR', `the API's answer for ${this.node}'s state is not a node state`);
    }
    return { node: this.node, revision: body.revision as number, state: body.state as NodeStateJson };
  }
}

/** The newer of two snapshots (either may be missing). */
export function newerSnapshot(
  a: NodeSnapshot | undefined,
  b: NodeSnapshot | undefined,
): NodeSnapshot | undefined {
  if (!a) return b;
  if (!b) return a;
  return b.revision > a.revision ? b : a;
}
