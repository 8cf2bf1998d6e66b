// The in-process bus of the embedded server: a bounded queue per consumer. publish() waits for room
// (back-pressure) and resolves once the consumer's handler has processed the message; if the handler
// fails, publish() rejects, so the agent's batch is not acknowledged and will be re-sent.

import { subjectMatches, type Bus, type BusMessage, type ConsumeOptions, type Subscription } from './types.ts';

interface Pending<T> {
  msg: BusMessage<T>;
  resolve(): void;
  reject(err: unknown): void;
}

class Consumer<T> {
  readonly filter: string;
  private readonly handler: (batch: BusMessage<T>[]) => Promise<void>;
  private readonly opts: ConsumeOptions;
  private readonly queue: Pending<T>[] = [];
  private running = false;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(filter: string, handler: (batch: BusMessage<T>[]) => Promise<void>, opts: ConsumeOptions) {
    this.filter = filter;
    this.handler = handler;
    this.opts = opts;
  }

  get depth(): number {
    return this.queue.length;
  }

  enqueue(p: Pending<T>): void {
    if (this.stopped) return p.reject(new Error('bus consumer stopped'));
    this.queue.push(p);
    if (!this.running) this.idle = this.drain();
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length) {
        if (this.queue.length < this.opts.maxBatch && this.opts.maxWaitMs > 0) {
          await new Promise((r) => setTimeout(r, this.opts.maxWaitMs));
        }
        const batch = this.queue.splice(0, this.opts.maxBatch);
        try {
          await this.handler(batch.map((p) => p.msg));
          for (const p of batch) p.resolve();
        } catch (err) {
          for (const p of batch) p.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle;
  }
}

export class InProcessBus<T> implements Bus<T> {
  private readonly consumers: Consumer<T>[] = [];
  private readonly capacity: number;
  private readonly waiters: (() => void)[] = [];

  /** `capacity`: most messages queued per consumer before publish() waits. */
  constructor(capacity = 1024) {
    this.capacity = capacity;
  }

  async publish(msg: BusMessage<T>): Promise<void> {
    const targets = this.consumers.filter((c) => subjectMatches(c.filter, msg.subject));
    if (targets.length === 0) throw new Error(`no consumer for subject ${msg.subject}`);
    while (targets.some((c) => c.depth >= this.capacity)) await new Promise<void>((r) => this.waiters.push(r));
    await Promise.all(targets.map((c) => new Promise<void>((resolve, reject) => c.enqueue({ msg, resolve, reject })))
      .map((p) => p.finally(() => this.wake())));
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  consume(filter: string, handler: (batch: BusMessage<T>[]) => Promise<void>, opts: ConsumeOptions): Subscription {
    const c = new Consumer(filter, handler, opts);
    this.consumers.push(c);
    return {
      stop: async () => {
        this.consumers.splice(this.consumers.indexOf(c), 1);
        await c.stop();
      },
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.consumers.splice(0).map((c) => c.stop()));
  }
}
