// The embedded server's bus: a durable local log (the spool) in front of in-process consumers. It keeps
// JetStream's contract on one machine: publish() resolves once the message is on disk (fdatasync, group
// commit), so ingest can acknowledge the agent long before the event store has written the batch;
// consumers receive messages in publish order, in batches, and a batch counts as done only after the
// handler succeeded (a failed handler gets the same batch again after a pause); whatever no consumer has
// finished when the process stops or dies is delivered again after the restart, marked `redelivered` (as is a
// batch handed again after its handler failed). Message ids seen
// recently are dropped when re-published (the agent re-sends after a reconnect). A consumer that falls
// behind never slows publishers down: past `maxQueued` messages or `maxQueuedBytes` in memory, its further
// messages are kept on disk only and read back from the log when their turn comes. The log is bounded: when it is
// nearly full, publish() refuses, so agents keep their batches and retry.

import { Spool } from '../spool/spool.ts';
import { trimOldest } from '../util/trim-oldest.ts';
import type { PayloadCodec } from './codec.ts';
import { VIGIL_STREAMS } from './jetstream.ts';
import { subjectMatches, type Bus, type BusMessage, type ConsumeOptions, type Subscription } from './types.ts';

export interface LocalLogBusOptions<T> {
  codec: PayloadCodec<T>;
  /** Bound of the log on disk (default 1 GiB); publish() refuses above 90 % of it. */
  maxBytes?: number;
  /** Messages held in memory per consumer; beyond, they are read back from the log (default 256). */
  maxQueued?: number;
  /** Encoded bytes held in memory per consumer, likewise (default 64 MiB). */
  maxQueuedBytes?: number;
  /** Recently published message ids remembered for deduplication (default 100,000; past it the oldest tenth is forgotten). */
  dedupIds?: number;
  /** Pause before a failed batch is handed to the handler again (default 500 ms, doubling up to 10 s). */
  retryDelayMs?: number;
  onHandlerError?: (err: unknown, attempt: number) => void;
  /** Each group commit's write + fdatasync time (see Spool). */
  onCommit?: (seconds: number) => void;
  /**
   * 0 (default): publish() resolves once the message is fdatasync'ed (it survives a machine crash). N > 0:
   * once it is written to the log file (it survives the process, e.g. SIGKILL, not the machine), and the log
   * is fdatasync'ed within N ms: JetStream's own contract (its file store syncs every `sync_interval`).
   */
  syncIntervalMs?: number;
}

/** A message for a consumer; `msg` is absent while it is on disk only (read back when handled). */
interface Entry<T> { seq: number; subject: string; msg?: BusMessage<T>; memoryBytes?: number }

type Handler<T> = (batch: BusMessage<T>[]) => Promise<void>;

// Envelope on disk: [u16 subject length][subject][u16 id length][id][payload]
function encodeEnvelope(subject: string, id: string, payload: Uint8Array): Buffer {
  const s = Buffer.from(subject);
  const i = Buffer.from(id);
  const out = Buffer.allocUnsafe(4 + s.length + i.length + payload.length);
  out.writeUInt16BE(s.length, 0);
  s.copy(out, 2);
  out.writeUInt16BE(i.length, 2 + s.length);
  i.copy(out, 4 + s.length);
  out.set(payload, 4 + s.length + i.length);
  return out;
}

function decodeEnvelope(b: Uint8Array): { subject: string; id: string; payload: Uint8Array } {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const sl = buf.readUInt16BE(0);
  const il = buf.readUInt16BE(2 + sl);
  return { subject: buf.toString('utf8', 2, 2 + sl), id: buf.toString('utf8', 4 + sl, 4 + sl + il), payload: buf.subarray(4 + sl + il) };
}

export function checkSubject(subjectOrFilter: string, isFilter: boolean): void {
  const [root, ...rest] = subjectOrFilter.split('.');
  const spec = VIGIL_STREAMS.find((s) => s.root === root);
  if (!spec) throw new Error(`unknown bus subject '${subjectOrFilter}': must start with ${VIGIL_STREAMS.map((s) => s.root).join(', ')}`);
  const ok = isFilter ? rest.length > 0 || subjectOrFilter === root : rest.length === spec.tokens && rest.every((t) => t && !/[\s*>]/.test(t));
  if (!ok) throw new Error(`invalid bus ${isFilter ? 'filter' : 'subject'} '${subjectOrFilter}'`);
}

class LogConsumer<T> {
  readonly filter: string;
  private readonly handler: Handler<T>;
  private readonly opts: ConsumeOptions;
  private readonly bus: LocalLogBus<T>;
  readonly queue: Entry<T>[] = [];
  private replay: Iterator<Entry<T>> | undefined;
  private reader: Iterator<Entry<T>> | undefined; // reads spilled messages back, kept open across batches
  private replaying: boolean; // until the last replayed batch is handled
  private replayed = 0; // highest replayed sequence handled
  private seenUpTo: number; // every live message ≤ this was offered to this consumer
  private memoryBytes = 0; // encoded size of the queued messages held in memory
  private wake: (() => void) | undefined;
  private stopped = false;
  readonly done: Promise<void>;

  constructor(bus: LocalLogBus<T>, filter: string, handler: Handler<T>, opts: ConsumeOptions, replay: Iterator<Entry<T>> | undefined, position: number) {
    this.bus = bus;
    this.filter = filter;
    this.handler = handler;
    this.opts = opts;
    this.replay = replay;
    this.replaying = replay !== undefined;
    this.replayed = position;
    this.seenUpTo = position;
    this.done = this.loop();
  }

  /** Every message with a sequence number ≤ this is handled by this consumer or not its business. */
  get position(): number {
    if (this.replaying) return this.replayed;
    return this.queue.length ? this.queue[0].seq - 1 : this.seenUpTo;
  }

  /** A newly published message of `bytes` encoded; kept in memory unless this consumer is far behind. */
  offer(seq: number, msg: BusMessage<T>, bytes: number, limits: { messages: number; bytes: number }): void {
    if (subjectMatches(this.filter, msg.subject)) {
      const inMemory = this.queue.length < limits.messages && this.memoryBytes + bytes <= limits.bytes;
      if (inMemory) this.memoryBytes += bytes;
      this.queue.push(inMemory ? { seq, subject: msg.subject, msg, memoryBytes: bytes } : { seq, subject: msg.subject });
    }
    this.seenUpTo = seq;
    this.wake?.();
  }

  /** Reads the messages of `batch` that are on disk only back from the log (in sequence order). */
  private readBack(batch: Entry<T>[]): void {
    const missing = new Map(batch.filter((e) => !e.msg).map((e) => [e.seq, e]));
    if (missing.size === 0) return;
    for (let fresh = false; missing.size > 0; fresh = true) {
      if (!this.reader || fresh) this.reader = this.bus.readFrom(Math.min(...missing.keys()));
      for (let r = this.reader.next(); !r.done; r = this.reader.next()) {
        const e = missing.get(r.value.seq);
        if (e) { e.msg = r.value.msg; missing.delete(e.seq); this.bus.counters.readBack++; }
        if (missing.size === 0) return;
      }
      if (fresh) break;
    }
    // Never expected (the log refuses to fill up): counted, and taken out so the rest goes on.
    for (const e of missing.values()) {
      this.bus.handlerFailed(new Error(`message ${e.seq} is missing from the bus log`), 0);
      this.dequeue(this.queue.indexOf(e), 1);
      batch.splice(batch.indexOf(e), 1);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.done;
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const fromReplay = this.replay !== undefined;
      const batch = fromReplay ? this.nextReplayBatch() : await this.nextLiveBatch();
      if (this.stopped) return;
      if (batch.length) await this.handleUntilDone(batch, fromReplay);
      if (fromReplay && !this.replay && !this.stopped) this.endReplay();
    }
  }

  /** Everything up to the end of the replayed log is done: the position follows live messages now. */
  private endReplay(): void {
    this.replaying = false;
    this.seenUpTo = Math.max(this.seenUpTo, this.replayed, this.bus.replayEnd);
    this.bus.advance();
  }

  /** The next replayed messages for this consumer; others' messages are passed over (done for us). */
  private nextReplayBatch(): Entry<T>[] {
    const batch: Entry<T>[] = [];
    while (this.replay && batch.length < this.opts.maxBatch) {
      const r = this.replay.next();
      if (r.done) this.replay = undefined;
      else if (subjectMatches(this.filter, r.value.subject)) batch.push(r.value);
      else if (batch.length === 0) this.replayed = r.value.seq;
      else break; // ends the batch; the position moves past it with the batch
    }
    return batch;
  }

  private async nextLiveBatch(): Promise<Entry<T>[]> {
    if (!this.queue.length) await new Promise<void>((r) => { this.wake = r; });
    if (this.queue.length && this.queue.length < this.opts.maxBatch && this.opts.maxWaitMs > 0 && !this.stopped) {
      await new Promise((r) => setTimeout(r, this.opts.maxWaitMs));
    }
    this.wake = undefined;
    const batch = this.queue.slice(0, this.opts.maxBatch);
    this.readBack(batch);
    return batch;
  }

  /** Hands the batch to the handler until it succeeds (or the consumer is stopped), then marks it done. */
  private async handleUntilDone(batch: Entry<T>[], fromReplay: boolean): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        // Replayed after a restart, or handed again after a failure: the handler may have stored it already.
        const again = fromReplay || attempt > 1;
        await this.handler(batch.map((e) => (again ? { ...e.msg!, redelivered: true } : e.msg!)));
        break;
      } catch (err) {
        this.bus.handlerFailed(err, attempt);
        if (this.stopped) return;
        await new Promise((r) => setTimeout(r, this.bus.retryDelay(attempt)));
        if (this.stopped) return;
      }
    }
    if (fromReplay) this.replayed = batch.at(-1)!.seq;
    else this.dequeue(0, batch.length);
    this.bus.advance();
  }

  private dequeue(start: number, count: number): void {
    for (const e of this.queue.splice(start, count)) this.memoryBytes -= e.memoryBytes ?? 0;
  }
}

export class LocalLogBus<T> implements Bus<T> {
  private readonly spool: Spool;
  private readonly o: LocalLogBusOptions<T>;
  private readonly consumers: LogConsumer<T>[] = [];
  private readonly recentIds = new Set<string>();
  /** The last sequence written before this process opened the log: what consumers replay up to. */
  readonly replayEnd: number;
  private closed = false;
  readonly counters = { published: 0, duplicates: 0, refusedFull: 0, handlerFailures: 0, /** messages a consumer far behind read back from disk */ readBack: 0 };

  private constructor(spool: Spool, o: LocalLogBusOptions<T>) {
    this.spool = spool;
    this.o = o;
    this.replayEnd = spool.stats().nextSeq - 1;
  }

  static async open<T>(dir: string, o: LocalLogBusOptions<T>): Promise<LocalLogBus<T>> {
    return new LocalLogBus(await Spool.open(dir, { maxBytes: o.maxBytes ?? 2 ** 30, onCommit: o.onCommit, syncIntervalMs: o.syncIntervalMs }), o);
  }

  /** Messages on disk not yet handled by every consumer. */
  /** fdatasyncs of the log since it was opened. */
  get syncs(): number {
    return this.spool.stats().syncs;
  }

  get backlog(): number {
    return this.spool.stats().unacked;
  }

  async publish(msg: BusMessage<T>): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    checkSubject(msg.subject, false);
    if (this.recentIds.has(msg.id)) {
      this.counters.duplicates++;
      return;
    }
    const maxBytes = this.o.maxBytes ?? 2 ** 30;
    if (this.spool.stats().bytes > 0.9 * maxBytes) {
      this.counters.refusedFull++;
      throw new Error('bus log full: the pipeline is behind; retry later');
    }
    const envelope = encodeEnvelope(msg.subject, msg.id, this.o.codec.encode(msg.payload));
    const seq = await this.spool.append(envelope);
    this.remember(msg.id);
    this.counters.published++;
    const limits = { messages: this.o.maxQueued ?? 256, bytes: this.o.maxQueuedBytes ?? 64 * 2 ** 20 };
    for (const c of this.consumers) c.offer(seq, msg, envelope.length, limits);
  }

  private remember(id: string): void {
    this.recentIds.add(id);
    trimOldest(this.recentIds, this.o.dedupIds ?? 100_000);
  }

  consume(filter: string, handler: Handler<T>, opts: ConsumeOptions): Subscription {
    checkSubject(filter, true);
    const floor = this.spool.stats().ackedSeq;
    const replay = floor < this.replayEnd ? this.readFrom(floor + 1, this.replayEnd) : undefined;
    const c = new LogConsumer(this, filter, handler, opts, replay, floor);
    this.consumers.push(c);
    return {
      stop: async () => {
        await c.stop();
        this.consumers.splice(this.consumers.indexOf(c), 1);
        this.advance();
      },
    };
  }

  /** The logged messages with sequence numbers from `from` to `upTo`, decoded, in order. */
  *readFrom(from: number, upTo = Number.POSITIVE_INFINITY): Generator<Entry<T>> {
    for (const { seq, batch } of this.spool.unacked()) {
      if (seq < from) continue;
      if (seq > upTo) return;
      let e: ReturnType<typeof decodeEnvelope>;
      let payload: T;
      try {
        e = decodeEnvelope(batch);
        payload = this.o.codec.decode(e.payload);
      } catch (err) {
        this.handlerFailed(new Error(`undecodable message ${seq} in the bus log: ${(err as Error).message}`), 0);
        continue;
      }
      yield { seq, subject: e.subject, msg: { subject: e.subject, id: e.id, payload } };
    }
  }

  /** Called by consumers after a batch: releases what every consumer is done with. */
  advance(): void {
    if (this.consumers.length) this.spool.ack(Math.min(...this.consumers.map((c) => c.position)));
  }

  handlerFailed(err: unknown, attempt: number): void {
    this.counters.handlerFailures++;
    this.o.onHandlerError?.(err, attempt);
  }

  retryDelay(attempt: number): number {
    return Math.min(10_000, (this.o.retryDelayMs ?? 500) * 2 ** (attempt - 1));
  }

  /** Waits until consumers have handled everything published (or `timeoutMs` passed). */
  async drain(timeoutMs: number): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (this.consumers.some((c) => c.queue.length) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return !this.consumers.some((c) => c.queue.length);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(this.consumers.map((c) => c.stop()));
    this.advance();
    this.consumers.length = 0;
    await this.spool.close();
  }
}
