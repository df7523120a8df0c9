import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { PlanAssembler, type ReceivedChange } from '@netledger/messaging';
import { NetledgerError } from '@netledger/model';

export interface ApiPlanSourceOptions {
  readonly url: string;
  /**
   * This node's executor token (it reads only this node's plan), or where to read it at each
   * request (a projected ServiceAccount token, which the kubelet renews in its file).
   */
  readonly token: string | (() => string | undefined) | undefined;
  readonly node: string;
  /** The CA that signed the API's certificate (PEM), for an https URL. */
  readonly ca?: Buffer | undefined;
  /** A snapshot larger than this is refused as it arrives. */
  readonly maxBytes: number;
  readonly timeoutMs?: number;
}

/**
 * The plan as this node's executor keeps it, from the Netledger API
 * (`GET /v1/plan/snapshot?node=`): the shared tables and peers, the node's manifest and the
 * fragments they name, as one plan message, validated and digest-checked like one from Kafka.
 * The executor's source when it joins late or finds a gap.
 */
export class ApiPlanSource {
  constructor(private readonly options: ApiPlanSourceOptions) {}

  /** The latest snapshot, or undefined when the API has no plan yet. */
  async latest(): Promise<ReceivedChange | undefined> {
    const { url, node, ca, maxBytes, timeoutMs = 60_000 } = this.options;
    const token = typeof this.options.token === 'function' ? this.options.token() : this.options.token;
    const target = new URL(`${url.replace(/\/$/, '')}/v1/plan/snapshot?node=${encodeURIComponent(node)}`);
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
      request(target, {
        headers: token ? { authorization: `Bearer ${token}` } : {},
        ...(ca ? { ca } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      })
        .on('response', resolve)
        .on('error', reject)
        .end();
    });
    if (res.statusCode === 404) {
      res.resume();
      return undefined;
    }
    if (res.statusCode !== 200) {
      res.resume();
      throw new NetledgerError('API.ERROR', `the API answered ${res.statusCode} for the plan snapshot`);
    }
    const chunks: Buffer[] = [];
    let bytes = 0;
    for await (const chunk of res as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > maxBytes) {
        res.destroy();
        throw new NetledgerError('MESSAGE.INVALID', `the plan snapshot is larger than ${maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    const received = new PlanAssembler(node, maxBytes).add(Buffer.concat(chunks));
    if (!received) throw new NetledgerError('API.ERROR', 'the API sent part of a plan snapshot');
    return received;
  }
}
