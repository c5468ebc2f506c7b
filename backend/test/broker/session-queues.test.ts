import { describe, expect, it } from 'vitest';
import { PublishBackpressure } from '../../src/broker/publish-backpressure.ts';
import { type SessionPersistence, SessionQueues } from '../../src/broker/session-queues.ts';

/** Just enough of aedes-persistence: outgoing queues by client id and a fixed subscriber list. */
function fakePersistence(subscribers: string[]): SessionPersistence & { queue(id: string): number[] } {
  const queues = new Map<string, number[]>();
  const queue = (id: string) => queues.get(id) ?? queues.set(id, []).get(id)!;
  return {
    queue,
    async outgoingEnqueue(sub, packet) {
      queue(sub.clientId).push((packet as { messageId: number }).messageId);
    },
    async outgoingEnqueueCombi(subs, packet) {
      for (const sub of subs) queue(sub.clientId).push((packet as { messageId: number }).messageId);
    },
    async outgoingClearMessageId(client, packet) {
      const q = queue(client.id);
      const at = q.indexOf((packet as { messageId: number }).messageId);
      return at < 0 ? undefined : q.splice(at, 1)[0];
    },
    async subscriptionsByTopic() {
      return subscribers.map((clientId) => ({ clientId }));
    },
  };
}

describe('SessionQueues and PublishBackpressure', () => {
  it('counts what is enqueued and cleared per session, ignoring clears of unknown ids', async () => {
    const persistence = fakePersistence(['rx']);
    const queues = new SessionQueues({ limit: 3 });
    queues.attach(persistence);
    await persistence.outgoingEnqueueCombi([{ clientId: 'rx' }, { clientId: 'rx2' }], { messageId: 1 });
    await persistence.outgoingEnqueue({ clientId: 'rx' }, { messageId: 2 });
    expect([queues.depth('rx'), queues.depth('rx2')]).toEqual([2, 1]);
    await persistence.outgoingClearMessageId({ id: 'rx' }, { messageId: 99 });
    await persistence.outgoingClearMessageId({ id: 'rx' }, { messageId: 1 });
    expect(queues.depth('rx')).toBe(1);
  });

  it('holds a QoS 1 publish to a full session until a PUBACK makes room, but never QoS 0 or its own session', async () => {
    const persistence = fakePersistence(['rx']);
    const queues = new SessionQueues({ limit: 2 });
    queues.attach(persistence);
    const backpressure = new PublishBackpressure({ queues, persistence, recheckMs: 60_000 });
    for (const messageId of [1, 2]) await persistence.outgoingEnqueue({ clientId: 'rx' }, { messageId });
    expect(queues.isFull('rx')).toBe(true);
    expect(backpressure.mayHold(0)).toBe(false);
    expect(await backpressure.blocking('rx', 't', 1)).toEqual([]);

    const held: string[][] = [];
    let admitted = false;
    const admission = backpressure.admit('device-dev-1', 't', 1, () => true, (s) => held.push(s)).then(() => {
      admitted = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(held).toEqual([['rx']]);
    expect(admitted).toBe(false);
    await persistence.outgoingClearMessageId({ id: 'rx' }, { messageId: 1 });
    await admission;
    expect(admitted).toBe(true);
  });

  it('lets a held publisher go when its connection closes', async () => {
    const persistence = fakePersistence(['rx']);
    const queues = new SessionQueues({ limit: 1 });
    queues.attach(persistence);
    await persistence.outgoingEnqueue({ clientId: 'rx' }, { messageId: 1 });
    let open = true;
    const admission = new PublishBackpressure({ queues, persistence, recheckMs: 1 }).admit('pub', 't', 1, () => open, () => {});
    open = false;
    await admission;
    expect(queues.isFull('rx')).toBe(true);
  });
});
