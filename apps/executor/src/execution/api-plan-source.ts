import { PlanAssembler, type ReceivedChange } from '@netledger/messaging';
import { NetledgerError } from '@netledger/model';

/**
 * The plan as this node's executor keeps it, from the Netledger API
 * (`GET /v1/plan/snapshot?node=`): the shared tables and peers, the node's manifest and the
 * fragments they name, as one plan message, validated and digest-checked like one from Kafka.
 * The executor's source when it joins late or finds a gap.
 */
export class ApiPlanSource {
  constructor(
    private readonly url: string,
    private readonly token: string | undefined,
    private readonly node: string,
    private readonly timeoutMs = 60_000,
  ) {}

  /** The latest snapshot, or undefined when the API has no plan yet. */
  async latest(): Promise<ReceivedChange | undefined> {
    const res = await fetch(
      `${this.url.replace(/\/$/, '')}/v1/plan/snapshot?node=${encodeURIComponent(this.node)}`,
      {
        headers: this.token ? { authorization: `Bearer ${this.token}` } : {},
        signal: AbortSignal.timeout(this.timeoutMs),
      },
    );
    if (res.status === 404) return undefined;
    if (!res.ok)
      throw new NetledgerError('API.ERROR', `the API answered ${res.status} for the plan snapshot`);
    const received = new PlanAssembler(this.node).add(Buffer.from(await res.arrayBuffer()));
    if (!received) throw new NetledgerError('API.ERROR', 'the API sent part of a plan snapshot');
    return received;
  }
}
