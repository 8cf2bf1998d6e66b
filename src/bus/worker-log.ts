// The durable local log (local-log.ts) kept by another thread: WorkerLogBus is the Bus a thread uses,
// serveLogBus() the side that owns the log. Payloads cross as bytes (this side encodes and decodes with
// its codec), so the owning thread never parses them. The owning thread appends and fsyncs, so a thread
// that publishes there (the ingest thread) acknowledges agents without waiting for this thread's event
// loop, and a busy consumer here (the pipeline) cannot delay those acknowledgements; the log's delivery
// contract (in order, in batches, a failed batch redelivered, replay after a restart) is unchanged,
// because the consumer in the owning thread just awaits this thread's handler.

import { Worker } from 'node:worker_threads';
import type { PayloadCodec } from './codec.ts';
import { checkSubject, type LocalLogBus, type LocalLogBusOptions } from './local-log.ts';
import type { Bus, BusMessage, ConsumeOptions, Subscription } from './types.ts';
import { ThreadRpc } from '../util/thread-rpc.ts';

/** A message as it crosses between the threads. */
interface RawMessage { subject: string; id: string; payload: Uint8Array; redelivered?: boolean }

/** The bytes of `b` in a buffer of their own (a view would send its whole underlying buffer along). */
function ownBytes(b: Uint8Array): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : b.slice();
}

/** The log-owning side: answers a WorkerLogBus's publishes and feeds its consumers. */
export function serveLogBus(rpc: ThreadRpc, bus: LocalLogBus<Uint8Array>): void {
  const subs = new Map<number, Subscription>();
  rpc.handle('bus.publish', (m: RawMessage) => bus.publish(m));
  rpc.handle('bus.consume', (subId: number, filter: string, opts: ConsumeOptions) => {
    subs.set(subId, bus.consume(filter, (batch) => rpc.call('bus.batch', subId, batch.map((m) => ({ subject: m.subject, id: m.id, payload: ownBytes(m.payload), ...(m.redelivered ? { redelivered: true } : {}) }))), opts));
  });
  rpc.handle('bus.unsubscribe', async (subId: number) => {
    await subs.get(subId)?.stop();
    subs.delete(subId);
  });
  rpc.handle('bus.drain', (timeoutMs: number) => bus.drain(timeoutMs));
  rpc.handle('bus.backlog', () => bus.backlog);
  rpc.handle('bus.close', () => bus.close());
}

export class WorkerLogBus<T> implements Bus<T> {
  readonly #rpc: ThreadRpc;
  readonly #codec: PayloadCodec<T>;
  readonly #handlers = new Map<number, (batch: BusMessage<T>[]) => Promise<void>>();
  readonly #afterClose: () => Promise<void>;
  #nextSub = 1;
  #closed = false;

  /** `afterClose` runs once the log is closed (e.g. ends the thread that kept it). */
  constructor(rpc: ThreadRpc, codec: PayloadCodec<T>, afterClose: () => Promise<void> = async () => {}) {
    this.#rpc = rpc;
    this.#codec = codec;
    this.#afterClose = afterClose;
    rpc.handle('bus.batch', (subId: number, batch: RawMessage[]) => {
      const handler = this.#handlers.get(subId);
      if (!handler) throw new Error(`no consumer ${subId}`);
      return handler(batch.map((m) => ({ subject: m.subject, id: m.id, payload: this.#codec.decode(m.payload), ...(m.redelivered ? { redelivered: true } : {}) })));
    });
  }

  async publish(msg: BusMessage<T>): Promise<void> {
    checkSubject(msg.subject, false);
    return this.#rpc.call('bus.publish', { subject: msg.subject, id: msg.id, payload: ownBytes(this.#codec.encode(msg.payload)) } satisfies RawMessage);
  }

  consume(filter: string, handler: (batch: BusMessage<T>[]) => Promise<void>, opts: ConsumeOptions): Subscription {
    checkSubject(filter, true);
    const subId = this.#nextSub++;
    this.#handlers.set(subId, handler);
    const started = this.#rpc.call<void>('bus.consume', subId, filter, { maxBatch: opts.maxBatch, maxWaitMs: opts.maxWaitMs });
    return {
      stop: async () => {
        await started;
        await this.#rpc.call('bus.unsubscribe', subId);
        this.#handlers.delete(subId);
      },
    };
  }

  /** Waits until consumers have handled everything published (or `timeoutMs` passed). */
  drain(timeoutMs: number): Promise<boolean> {
    return this.#rpc.call('bus.drain', timeoutMs);
  }

  /** Messages on disk not yet handled by every consumer. */
  backlog(): Promise<number> {
    return this.#rpc.call('bus.backlog');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#rpc.call('bus.close');
    await this.#afterClose();
  }
}

/**
 * A LocalLogBus in a worker thread of its own (worker-log-thread.ts), used from this thread; closing it
 * ends the thread. `options` must be cloneable (no codec, no callbacks: handler errors are logged there).
 */
export async function openWorkerLogBus<T>(dir: string, codec: PayloadCodec<T>, options: Omit<LocalLogBusOptions<T>, 'codec' | 'onHandlerError'> = {}): Promise<WorkerLogBus<T>> {
  const worker = new Worker(new URL('./worker-log-thread.ts', import.meta.url), { workerData: { dir, options } });
  const rpc = new ThreadRpc(worker);
  await threadReady(worker, rpc);
  return new WorkerLogBus(rpc, codec, async () => { await worker.terminate(); });
}

/** Resolves once the thread said 'ready'; rejects if it failed or exited first. Later, its loss fails every call. */
export function threadReady(worker: Worker, rpc: ThreadRpc): Promise<void> {
  return new Promise((resolve, reject) => {
    const gone = (err: Error) => { rpc.fail(err); reject(err); };
    rpc.handle('ready', () => resolve());
    worker.once('error', gone);
    worker.once('exit', (code) => gone(new Error(`worker thread exited (code ${code})`)));
  });
}
