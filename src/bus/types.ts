// The bus interface between ingest and the pipeline workers. Subjects follow seed 002:
// `events.<tenant>.<host>`, `alerts.<tenant>`, `ir.<tenant>.<host>`, `rules.<tenant>`.
// publish() resolves when the message is durable in the bus's sense (in-process: processed and stored by
// the consumer; JetStream: acknowledged by the stream), so ingest may then acknowledge the agent.

export interface BusMessage<T> {
  subject: string;
  id: string; // deduplication id
  payload: T;
  /**
   * Set by a consumer-side bus on a message it delivers again: the local log's replay after a restart (and a batch
   * handed again after its handler failed), JetStream's redelivery (after `ack_wait` or a nak). Never set in-process
   * (nothing is delivered twice there). A handler may have stored it already: the pipeline drops its events that are.
   * Not set on a message a publisher sends again (an agent re-sending a batch is a new message).
   */
  redelivered?: boolean;
}

export interface ConsumeOptions {
  maxBatch: number; // most messages handed to the handler at once
  maxWaitMs: number; // how long to wait to fill a batch once one message is there
}

export interface Subscription {
  stop(): Promise<void>;
}

export interface Bus<T> {
  publish(msg: BusMessage<T>): Promise<void>;
  /** Calls `handler` with batches of messages on subjects matching `filter` (NATS wildcards). */
  consume(filter: string, handler: (batch: BusMessage<T>[]) => Promise<void>, opts: ConsumeOptions): Subscription;
  close(): Promise<void>;
}

/** NATS-style subject matching: `*` one token, `>` the rest. */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}
