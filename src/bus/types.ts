// The bus interface between ingest and the pipeline workers. Subjects follow seed 002:
// `events.<tenant>.<host>`, `alerts.<tenant>`, `ir.<tenant>.<host>`, `rules.<tenant>`.
// publish() resolves when the message is durable in the bus's sense (in-process: processed and stored by
// the consumer; JetStream: acknowledged by the stream), so ingest may then acknowledge the agent.

export interface BusMessage<T> {
  subject: string;
  id: string; // deduplication id
  payload: T;
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
