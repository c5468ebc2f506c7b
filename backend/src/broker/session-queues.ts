import type { Logger } from '@iot/common/log';

/** What aedes's persistence (the aedes-persistence API) offers that the queue accounting needs. */
export interface SessionPersistence {
  outgoingEnqueue(sub: { clientId: string }, packet: unknown): Promise<void>;
  outgoingEnqueueCombi(subs: { clientId: string }[], packet: unknown): Promise<void>;
  outgoingClearMessageId(client: { id: string }, packet: unknown): Promise<unknown>;
  subscriptionsByTopic(topic: string): Promise<{ clientId: string }[]>;
}

/**
 * Default session limit: room for one batch from each of thousands of stop-and-wait devices (the
 * uplink has one batch in flight) while a receiver is away, and a bound on the broker's memory.
 */
export const DEFAULT_SESSION_QUEUE_LIMIT = 10_000;

/**
 * How many QoS 1/2 messages aedes holds for each persistent session (CleanSession 0, 3.1.1
 * §3.1.2.4): queued while the client is away and in flight, unacknowledged, while it is there.
 * aedes keeps them in its persistence without any bound; this counts them, so that publishers can
 * be held back when a session is full (publish-backpressure.ts) instead of the broker growing
 * until it dies.
 *
 * aedes-persistence's queues are private, so the count follows the calls aedes makes: +1 per
 * session a message is enqueued for, −1 when a PUBACK/PUBCOMP (or a discarded session) clears one.
 * `outgoingUpdate` only replaces an entry (a QoS 2 PUBREL for its PUBLISH) and changes no count.
 */
export class SessionQueues {
  readonly limit: number;
  private readonly logger: Logger | undefined;
  private readonly depths = new Map<string, number>();
  /** Sessions at the limit; publishers wait while one they would add to is in here. */
  private readonly full = new Set<string>();
  private readonly waiters = new Set<() => void>();
  /** Sessions logged as full and not yet as having room: the log has hysteresis, the gate none. */
  private readonly reported = new Set<string>();

  constructor(options: { limit: number; logger?: Logger }) {
    if (!(options.limit >= 1)) throw new RangeError('the session queue limit must be at least 1');
    this.limit = options.limit;
    this.logger = options.logger;
  }

  /** Counts from now on what `persistence` enqueues and clears (wraps its methods in place). */
  attach(persistence: SessionPersistence): void {
    const enqueue = persistence.outgoingEnqueue.bind(persistence);
    const enqueueCombi = persistence.outgoingEnqueueCombi.bind(persistence);
    const clear = persistence.outgoingClearMessageId.bind(persistence);
    persistence.outgoingEnqueue = async (sub, packet) => {
      await enqueue(sub, packet);
      this.add(sub.clientId, 1);
    };
    persistence.outgoingEnqueueCombi = async (subs, packet) => {
      await enqueueCombi(subs, packet);
      for (const sub of subs) this.add(sub.clientId, 1);
    };
    persistence.outgoingClearMessageId = async (client, packet) => {
      const removed = await clear(client, packet);
      if (removed !== undefined && removed !== null) this.add(client.id, -1);
      return removed;
    };
  }

  depth(clientId: string): number {
    return this.depths.get(clientId) ?? 0;
  }

  /** Whether any session is full; false (the usual case) means no publisher needs a look-up. */
  get anyFull(): boolean {
    return this.full.size > 0;
  }

  isFull(clientId: string): boolean {
    return this.full.has(clientId);
  }

  /** Resolves at the next change that may have made room (or after `recheckMs`, whichever first). */
  changed(recheckMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      // A session can also stop mattering without a count changing (it unsubscribed, or its client
      // now connects clean), so waiters look again now and then.
      const timer = setTimeout(wake, recheckMs);
      timer.unref(); // a held publisher must not keep a stopping broker alive
      this.waiters.add(wake);
    });
  }

  private add(clientId: string, delta: number): void {
    const depth = Math.max(0, this.depth(clientId) + delta);
    if (depth === 0) this.depths.delete(clientId);
    else this.depths.set(clientId, depth);
    if (depth >= this.limit) {
      this.full.add(clientId);
      if (!this.reported.has(clientId)) {
        this.reported.add(clientId);
        this.logger?.warn({ event: 'session_queue_full', clientId, depth, limit: this.limit }, 'persistent session full; holding back publishers to it');
      }
    } else if (this.full.delete(clientId)) {
      for (const wake of [...this.waiters]) wake();
    }
    if (depth <= this.limit * 0.9 && this.reported.delete(clientId)) {
      this.logger?.info({ event: 'session_queue_room', clientId, depth, limit: this.limit }, 'persistent session has room again');
    }
  }
}
