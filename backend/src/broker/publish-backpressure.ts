import type { SessionPersistence, SessionQueues } from './session-queues.ts';

/**
 * Holds a QoS 1/2 PUBLISH back, before its PUBACK/PUBREC, while a persistent session it would be
 * queued for is full (session-queues.ts).
 *
 * MQTT 3.1.1 gives a server two answers to a PUBLISH: acknowledge it, or close the connection
 * [MQTT-3.3.5-2]. Dropping after a PUBACK would break the contract the acknowledgement states
 * (§4.3.2: the receiver "accepts ownership"); refusing by a close makes the publisher reconnect
 * and send the same message again at once. So the broker simply answers later: aedes runs the
 * publish hook before it writes the PUBACK, and reads no further packet from that client until the
 * packet is handled, so a held publish pauses exactly that publisher, and TCP flow control pauses
 * its socket. Its keep-alive ends a hold that lasts too long [MQTT-3.1.2-24]; QoS 0 is never held.
 *
 * A publisher is never held for its own session: its PUBACKs for that session arrive on the very
 * connection being held.
 */
export class PublishBackpressure {
  private readonly queues: SessionQueues;
  private readonly persistence: SessionPersistence;
  private readonly recheckMs: number;

  constructor(options: { queues: SessionQueues; persistence: SessionPersistence; recheckMs?: number }) {
    this.queues = options.queues;
    this.persistence = options.persistence;
    this.recheckMs = options.recheckMs ?? 1_000;
  }

  /** Whether a publish at `qos` could be held at all right now; when false, admit without waiting. */
  mayHold(qos: number): boolean {
    return qos > 0 && this.queues.anyFull;
  }

  /**
   * The full sessions a publish on `topic` would be queued for, or none (the usual case, without
   * even a look-up while no session is full).
   */
  async blocking(publisherId: string | undefined, topic: string, qos: number): Promise<string[]> {
    if (!this.mayHold(qos)) return [];
    const subscribers = await this.persistence.subscriptionsByTopic(topic);
    return [...new Set(subscribers.map((s) => s.clientId))].filter((id) => id !== publisherId && this.queues.isFull(id));
  }

  /**
   * Resolves once the publish may go ahead, or its publisher is gone (`isOpen` false); `onHeld` is
   * told the sessions, once, if it must wait.
   */
  async admit(publisherId: string | undefined, topic: string, qos: number, isOpen: () => boolean, onHeld: (sessions: string[]) => void): Promise<void> {
    let blocking = await this.blocking(publisherId, topic, qos);
    if (blocking.length === 0) return;
    onHeld(blocking);
    while (blocking.length > 0 && isOpen()) {
      await this.queues.changed(this.recheckMs);
      blocking = await this.blocking(publisherId, topic, qos);
    }
  }
}
