// Dynamic ownership of the events stream's host partitions among the workers (scale-out). Each worker holds
// leases (src/stores/leases/postgres.ts, the database's clock) on a fair share of the partitions and runs
// one durable consumer per leased partition; a partition is consumed by one worker at a time, so a host's
// events stay in order. Every lease/3 a worker renews its heartbeat and leases, gives back what exceeds its
// fair share (stopping that consumer first: its batch in hand is finished and acked, the rest goes back to
// the stream in order for the next owner), and takes unowned or expired partitions up to its share. A dead
// worker's leases expire after one lease time and the others take them over (their un-acked messages are
// redelivered after ack_wait). A worker that cannot renew for 0.6 × lease stops all its consumers before
// its leases can expire (fencing). On a graceful stop it stops its consumers and releases its leases.

import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { Counter, Gauge } from 'prom-client';
import { registry } from '../metrics/registry.ts';
import type { PartitionLeases } from './partition-leases.ts';
import type { JetStreamBus } from './jetstream.ts';
import type { Bus, BusMessage, ConsumeOptions, Subscription } from './types.ts';

const held = new Gauge({ name: 'vigil_worker_partitions_held', help: 'Event partitions this worker holds a lease on and consumes', registers: [registry] });
const changes = new Counter({
  name: 'vigil_worker_partition_changes_total', help: 'Event partitions taken, released (fair share, stop) and lost (lease expired or fenced)',
  labelNames: ['change'], registers: [registry],
});

/** How many of `partitions` the member `me` should hold among the live `members` (sorted): the shares sum to `partitions`. */
export function fairShare(partitions: number, members: string[], me: string): number {
  const all = members.includes(me) ? members : [...members, me];
  const rank = all.indexOf(me);
  return Math.floor(partitions / all.length) + (rank < partitions % all.length ? 1 : 0);
}

export interface LeasedPartitionOptions {
  partitions: number;
  leaseMs: number;
  log: Logger;
}

type Consumer<T> = { filter: string; handler: (batch: BusMessage<T>[]) => Promise<void>; opts: ConsumeOptions };

/** The worker's view of the events bus: publishes through `inner`, consumes the partitions it holds leases on. */
export class LeasedPartitionBus<T> implements Bus<T> {
  private readonly inner: JetStreamBus<T>;
  private readonly leases: PartitionLeases;
  private readonly o: LeasedPartitionOptions;
  private readonly consumers = new Map<number, Subscription>();
  /** Each held partition's term: a number that grows every time this worker takes a partition. */
  private readonly terms = new Map<number, number>();
  private lastTerm = 0;
  private consumer: Consumer<T> | undefined;
  private renewedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private fence: NodeJS.Timeout | undefined;
  private tick: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(inner: JetStreamBus<T>, leases: PartitionLeases, o: LeasedPartitionOptions) {
    this.inner = inner;
    this.leases = leases;
    this.o = o;
  }

  /** The partitions this worker consumes now. */
  get partitions(): number[] {
    return [...this.consumers.keys()].sort((a, b) => a - b);
  }

  /**
   * The partitions this worker consumes now, each with the term in which it took it: a partition that went to another
   * worker and came back has a new term, even when both happened between two looks.
   */
  get heldTerms(): ReadonlyMap<number, number> {
    return new Map(this.terms);
  }

  publish(msg: BusMessage<T>): Promise<void> {
    return this.inner.publish(msg);
  }

  consume(filter: string, handler: (batch: BusMessage<T>[]) => Promise<void>, opts: ConsumeOptions): Subscription {
    if (this.consumer) throw new Error('a leased partition bus serves one consumer');
    this.consumer = { filter, handler, opts };
    this.renewedAt = performance.now();
    const schedule = () => {
      this.timer = setTimeout(() => {
        this.tick = this.balance().finally(() => { if (!this.stopped) schedule(); });
      }, this.o.leaseMs / 3);
    };
    this.tick = this.balance().finally(schedule);
    this.fence = setInterval(() => {
      if (this.consumers.size > 0 && performance.now() - this.renewedAt > 0.6 * this.o.leaseMs) {
        this.o.log.error({ partitions: [...this.consumers.keys()] }, 'partition leases not renewed in time: consumers stopped (fencing)');
        void this.drop([...this.consumers.keys()], 'lost');
      }
    }, this.o.leaseMs / 10);
    return { stop: () => this.stop() };
  }

  /** One round: heartbeat, renew, give back the excess, take up to the fair share. */
  private async balance(): Promise<void> {
    try {
      const members = await this.leases.heartbeat();
      const started = performance.now();
      const kept = new Set(await this.leases.renew());
      this.renewedAt = started;
      await this.drop([...this.consumers.keys()].filter((p) => !kept.has(p)), 'lost');
      const share = fairShare(this.o.partitions, members, this.leases.member);
      const excess = [...this.consumers.keys()].sort((a, b) => b - a).slice(0, Math.max(0, this.consumers.size - share));
      if (excess.length) {
        await this.drop(excess, 'released');
        await this.leases.release(excess);
      }
      if (!this.stopped) for (const p of await this.leases.take(share - this.consumers.size)) this.start(p);
    } catch (err) {
      this.o.log.warn({ err }, 'partition lease round failed');
    }
    held.set(this.consumers.size);
  }

  private start(p: number): void {
    const c = this.consumer!;
    this.consumers.set(p, this.inner.consumePartition(c.filter, p, c.handler, c.opts));
    this.terms.set(p, ++this.lastTerm);
    changes.inc({ change: 'taken' });
    this.o.log.info({ partition: p }, 'event partition taken');
  }

  private async drop(partitions: number[], change: 'lost' | 'released'): Promise<void> {
    const subs = partitions.flatMap((p) => {
      const s = this.consumers.get(p);
      this.consumers.delete(p);
      this.terms.delete(p);
      return s ? [s] : [];
    });
    if (subs.length === 0) return;
    changes.inc({ change }, subs.length);
    held.set(this.consumers.size);
    this.o.log.info({ partitions, change }, 'event partitions given up');
    await Promise.all(subs.map((s) => s.stop()));
  }

  private async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.fence);
    await this.tick;
    await this.drop([...this.consumers.keys()], 'released');
    await this.leases.leave().catch((err: unknown) => this.o.log.warn({ err }, 'partition leases not released; they expire'));
  }

  /** The inner bus is closed by its owner (the role also publishes through it). */
  async close(): Promise<void> {}
}
