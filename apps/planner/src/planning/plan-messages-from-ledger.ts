import { PgEventStore, PlanLedger, type OutboxMessage } from '@netledger/event-store';
import { encodePlanChange, signPlanMessages, type PlanSigner } from '@netledger/messaging';
import { NetledgerError, PLAN_CHANGED, type PlanChanged } from '@netledger/model';
import type { Pool } from 'pg';

/**
 * The planner's outbox row for a plan change references its PlanChanged event: the message bytes
 * are not written a second time. The planner offers the messages from memory; when the relay
 * reads a row back instead (after a crash, or from a standby), this builds the plan messages from
 * the event and the stored fragment bodies.
 */
export function planMessagesFromLedger(
  planTopic: string,
  signer: PlanSigner | undefined,
): (pool: Pool) => (messages: OutboxMessage[]) => Promise<OutboxMessage[]> {
  return (pool) => {
    const ledger = new PlanLedger(new PgEventStore(pool));
    return async (messages) => {
      const out: OutboxMessage[] = [];
      for (const m of messages) {
        if (m.topic !== planTopic) {
          out.push(m);
          continue;
        }
        const event = JSON.parse(m.value) as { type?: string; data?: PlanChanged };
        if (event.type !== PLAN_CHANGED || !event.data)
          throw new NetledgerError('OUTBOX.INVALID', `a ${planTopic} row does not reference a plan change`);
        const { change } = event.data;
        const bodies = await ledger.fragments(change.fragments);
        const fragments = change.fragments.map((digest) => {
          const body = bodies.get(digest);
          if (!body) throw new NetledgerError('PLAN.LEDGER_INCONSISTENT', `fragment ${digest} is not stored`);
          return { digest, kind: body.kind, json: body.json };
        });
        for (const part of signPlanMessages(encodePlanChange(change, fragments), signer))
          out.push({ topic: planTopic, ...part });
      }
      return out;
    };
  };
}
