// The bus on NATS JetStream (scale-out). Owns the stream layout of seed 002 (`events.<tenant>.<host>`,
// `alerts.<tenant>`, `ir.<tenant>.<host>`, `rules.<tenant>`, plus `ir-reports.<tenant>.<host>`: one stream each, file storage, limits and
// max age per seed 000), publishing with message ids (server-side dedup within the duplicate window), and
// durable pull consumers with explicit acks: a batch is acked after the handler succeeded, nak'ed (so
// redelivered, marked `redelivered` like one after `ack_wait`) when it failed. publish() resolves on JetStream's publish ack, i.e. once the message is
// stored in the stream. Every process of one `consumerGroup` shares a durable consumer per filter, so the
// messages are divided among them (work-queue semantics); different groups each see every message.
// The events stream refuses publishes at its byte bound (discard new: BusFullError) instead of dropping its oldest
// messages, which may be acknowledged to agents and not yet stored; with `trimConsumed` its consumers purge what they
// acknowledged, so the bound is the workers' backlog. Replicas: `replicas`, never changed on an existing stream.
// `follow` is the broadcast form: a per-process ordered consumer that sees every message from now on.

import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import {
  AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstream, jetstreamManager,
  type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg,
} from '@nats-io/jetstream';
import type { PayloadCodec } from './codec.ts';
import type { Bus, BusMessage, ConsumeOptions, Subscription } from './types.ts';

const HOUR_MS = 3_600_000;

export interface StreamSpec {
  /** The subjects' first token, e.g. `events` for `events.<tenant>.<host>`. */
  root: string;
  /** Stream name without the namespace, e.g. `EVENTS`. */
  name: string;
  /** How many tokens follow the root (events: tenant and host). */
  tokens: number;
  maxAgeMs: number;
  /** Per-subject history kept (rules: only the latest rule set of a tenant matters). */
  maxMsgsPerSubject?: number;
  /**
   * Its disk bound as a share of the events stream's (`maxBytes`). JetStream reserves every stream's bound
   * from its store when the stream is created, so the small streams get small bounds: 10 GiB for each would
   * reserve 50 GiB per deployment.
   */
  bytesShare: number;
}

/**
 * The streams of seed 002 with seed 000's limits: file storage, 24 h max age as the safety buffer. Limits
 * retention, not interest: a message published before its durable consumer exists is kept, not dropped.
 */
export const VIGIL_STREAMS: readonly StreamSpec[] = [
  { root: 'events', name: 'EVENTS', tokens: 2, maxAgeMs: 24 * HOUR_MS, bytesShare: 1 },
  { root: 'alerts', name: 'ALERTS', tokens: 1, maxAgeMs: 7 * 24 * HOUR_MS, bytesShare: 1 / 10 },
  { root: 'ir', name: 'IR_COMMANDS', tokens: 2, maxAgeMs: 24 * HOUR_MS, bytesShare: 1 / 40 },
  // Agents' answers to response commands (results, artefact chunks, "connected", "delivered"), ingest → API
  // role. Triage archives (up to 500 MiB by default) travel here in chunks, hence a quarter.
  { root: 'ir-reports', name: 'IR_REPORTS', tokens: 2, maxAgeMs: 24 * HOUR_MS, bytesShare: 1 / 4 },
  { root: 'rules', name: 'RULE_UPDATES', tokens: 1, maxAgeMs: 30 * 24 * HOUR_MS, maxMsgsPerSubject: 1, bytesShare: 1 / 160 },
];

export interface JetStreamBusOptions<T> {
  servers: string | string[];
  codec: PayloadCodec<T>;
  /**
   * Separates deployments (or test runs) sharing one NATS: prefixes every wire subject (`<ns>.events.…`)
   * and stream name (`<NS>_EVENTS`). Empty (the default): subjects exactly as in seed 002, streams `VIGIL_*`.
   */
  namespace?: string;
  /** Durable consumers are named `<group>_<filter>`; processes of one group share the messages. */
  consumerGroup?: string;
  /**
   * Disk bound of the events stream (oldest discarded beyond it; default 10 GiB); every other stream gets its
   * spec's `bytesShare` of it, so a deployment reserves ≈ 1.4 × this from JetStream's store.
   */
  maxBytes?: number;
  duplicateWindowMs?: number; // server-side dedup window for message ids; default 2 min
  ackWaitMs?: number; // redelivery when a consumer died holding a message; default 30 s
  redeliveryDelayMs?: number; // after a handler failure; default 1 s
  maxAckPending?: number; // un-acked messages in flight per durable consumer; default 20,000
  publishTimeoutMs?: number; // default 5 s
  /**
   * Host partitions of the events stream (default 1: none). With P > 1 an event subject
   * `events.<tenant>.<host>` travels as `events.<p>.<tenant>.<host>`, p = hash(tenant, host) mod P, and a
   * consumer takes only its `ownedPartitions`, one durable consumer each, so every event of a host reaches
   * the same worker (its detection state stays whole). All processes of a deployment must agree on P.
   * (NATS ≥ 2.10 can do the same mapping server-side with a `partition()` subject transform.)
   */
  eventPartitions?: number;
  /** The event partitions this process consumes (default: all). */
  ownedPartitions?: number[];
  /** Called for a message whose payload cannot be decoded: it is terminated (never redelivered). */
  onUndecodable?: (subject: string, err: Error) => void;
  /** Called when setting up a consumer failed; it is retried every second until it works or is stopped. */
  onConsumerError?: (filter: string, err: Error) => void;
  /**
   * Replicas of the streams this process creates (`--bus-replicas`): default 3 when the NATS cluster has three or
   * more servers, else 1. An existing stream keeps the replicas it has (an operator may have changed them with
   * `nats stream edit`); `onWarning` says so when they differ.
   */
  replicas?: number;
  /** Called with what an operator should know (an existing stream's setting left as it is). */
  onWarning?: (message: string) => void;
  /**
   * The events stream discards *new* messages at its byte bound (a publish is refused: ingest does not ack, the
   * agents keep their spool), so that nothing acknowledged is dropped while workers are down. Its consumers then
   * purge what they acknowledged (every `trimIntervalMs`, default 2 s), so that the bound holds the backlog, not
   * 24 h of stored events. Only for the events stream's single consumer group (the workers): set on their bus.
   */
  trimConsumed?: boolean;
  trimIntervalMs?: number;
}

/** A publish JetStream refused because its stream is at its bound (discard new): not stored, retry later. */
export class BusFullError extends Error {
  override name = 'BusFullError';
  readonly busFull = true;
}

/** JetStream's answers for a discard-new stream at its bound. */
const FULL = /maximum (bytes|messages)( per subject)? exceeded|resource limits exceeded/i;

/** The replicas to use when none are configured: 3 on a cluster of three or more servers, else 1. */
export function defaultReplicas(clusterServers: number): number {
  return clusterServers >= 3 ? 3 : 1;
}

const SUBJECT_TOKEN = /^[^\s.*>]+$/;

/** The host partition of `<tenant>.<host>`: FNV-1a, stable across processes and versions. */
export function hostPartition(tenant: string, host: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (const c of Buffer.from(`${tenant}.${host}`)) h = Math.imul(h ^ c, 0x01000193) >>> 0;
  return h % partitions;
}

export const DEFAULT_EVENTS_MAX_BYTES = 10 * 2 ** 30;

/** The disk bound of one stream: its share of the events stream's, at least 1 MiB. */
export function streamMaxBytes(spec: StreamSpec, eventsMaxBytes = DEFAULT_EVENTS_MAX_BYTES): number {
  return Math.max(2 ** 20, Math.floor(eventsMaxBytes * spec.bytesShare));
}

/** JetStream's "insufficient storage" names neither the stream nor the cure; this error does. */
function explainStreamError(stream: string, maxBytes: number, err: unknown): unknown {
  if (!(err instanceof Error) || !/insufficient storage/i.test(err.message)) return err;
  return new Error(
    `cannot create stream ${stream}: JetStream cannot reserve its bound of ${maxBytes} bytes (${err.message}); ` +
    'lower --bus-max-bytes, raise the NATS server\'s max_file_store, or free its store\'s disk', { cause: err },
  );
}

/** A durable consumer name for a filter: `.`, `*`, `>` are not allowed in names. */
function durableName(group: string, filter: string): string {
  return `${group}_${filter.replaceAll('.', '_').replaceAll('*', 'STAR').replaceAll('>', 'ALL')}`;
}

export class JetStreamBus<T> implements Bus<T> {
  private readonly o: JetStreamBusOptions<T>;
  private readonly nc: NatsConnection;
  private readonly js: JetStreamClient;
  private readonly jsm: JetStreamManager;
  private readonly prefix: string;
  private readonly loops = new Set<{ stop(): Promise<void> }>();
  private closed = false;

  private constructor(o: JetStreamBusOptions<T>, nc: NatsConnection, jsm: JetStreamManager) {
    this.o = o;
    this.nc = nc;
    this.jsm = jsm;
    this.js = jetstream(nc, { timeout: o.publishTimeoutMs ?? 5000 });
    this.prefix = o.namespace ? `${o.namespace}.` : '';
  }

  /** Connects (reconnecting forever after that) and creates or updates the streams. */
  static async connect<T>(o: JetStreamBusOptions<T>): Promise<JetStreamBus<T>> {
    if (o.namespace !== undefined && o.namespace !== '' && !SUBJECT_TOKEN.test(o.namespace)) {
      throw new Error(`invalid bus namespace '${o.namespace}': one subject token, no '.', '*', '>' or spaces`);
    }
    // noAsyncTraces: no stack captured per publish and ack (≈ 5 % of an ingest process's CPU per event in
    // bench:scale); errors are logged with their context instead.
    const nc = await connect({ servers: o.servers, maxReconnectAttempts: -1, reconnectTimeWait: 500, name: 'vigil', noAsyncTraces: true });
    try {
      const bus = new JetStreamBus(o, nc, await jetstreamManager(nc));
      await bus.ensureStreams(o.replicas ?? defaultReplicas(clusterServers(nc)));
      return bus;
    } catch (err) {
      await nc.close();
      throw err;
    }
  }

  private async ensureStreams(replicas: number): Promise<void> {
    for (const spec of VIGIL_STREAMS) {
      const config = {
        name: streamName(this.o.namespace, spec),
        subjects: [`${this.prefix}${spec.root}.>`],
        storage: StorageType.File,
        retention: RetentionPolicy.Limits,
        // Events: refuse at the bound (ingest stops acknowledging) rather than drop the oldest, which may be
        // acknowledged to an agent and not yet stored. The other streams' readers keep up or need only the newest.
        discard: spec.root === 'events' ? DiscardPolicy.New : DiscardPolicy.Old,
        max_age: nanos(spec.maxAgeMs),
        max_bytes: streamMaxBytes(spec, this.o.maxBytes),
        max_msgs_per_subject: spec.maxMsgsPerSubject ?? -1,
        duplicate_window: nanos(this.o.duplicateWindowMs ?? 120_000),
        num_replicas: replicas,
      };
      let existing;
      try {
        existing = await this.jsm.streams.info(config.name);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await this.jsm.streams.add(config).catch((e: unknown) => { throw explainStreamError(config.name, config.max_bytes, e); });
        continue;
      }
      const have = existing.config.num_replicas;
      if (have !== replicas) {
        this.o.onWarning?.(`stream ${config.name} has ${have} replica(s), not the ${replicas} configured: left as it is ` +
          '(change it with `nats stream edit --replicas`, or set --bus-replicas to match)');
        config.num_replicas = have;
      }
      await this.jsm.streams.update(config.name, config);
    }
  }

  /** The spec of a subject or filter, checking its shape: root token, then the spec's token count. */
  private specOf(subjectOrFilter: string, isFilter: boolean): StreamSpec {
    const tokens = subjectOrFilter.split('.');
    const spec = VIGIL_STREAMS.find((s) => s.root === tokens[0]);
    if (!spec) throw new Error(`unknown bus subject '${subjectOrFilter}': must start with ${VIGIL_STREAMS.map((s) => s.root).join(', ')}`);
    const rest = tokens.slice(1);
    const ok = isFilter
      ? rest.every((t, i) => t === '*' || (t === '>' && i === rest.length - 1) || SUBJECT_TOKEN.test(t))
      : rest.length === spec.tokens && rest.every((t) => SUBJECT_TOKEN.test(t));
    if (!ok) throw new Error(`invalid bus ${isFilter ? 'filter' : 'subject'} '${subjectOrFilter}'`);
    return spec;
  }

  async publish(msg: BusMessage<T>): Promise<void> {
    if (this.closed) throw new Error('bus closed');
    const spec = this.specOf(msg.subject, false);
    try {
      await this.js.publish(this.wireSubject(spec, msg.subject), this.o.codec.encode(msg.payload), { msgID: msg.id });
    } catch (err) {
      if (err instanceof Error && FULL.test(err.message)) throw new BusFullError(`stream ${streamName(this.o.namespace, spec)} is full: ${err.message}`, { cause: err });
      throw err;
    }
  }

  private get partitions(): number {
    return Math.max(1, Math.trunc(this.o.eventPartitions ?? 1));
  }

  private isPartitioned(spec: StreamSpec): boolean {
    return spec.root === 'events' && this.partitions > 1;
  }

  private wireSubject(spec: StreamSpec, subject: string): string {
    if (!this.isPartitioned(spec)) return this.prefix + subject;
    const [, tenant, host] = subject.split('.');
    return `${this.prefix}events.${hostPartition(tenant, host, this.partitions)}.${tenant}.${host}`;
  }

  /** Wire subject → the subject publishers used (namespace and partition token removed). */
  private logicalSubject(spec: StreamSpec, wire: string): string {
    const s = wire.slice(this.prefix.length);
    return this.isPartitioned(spec) ? s.replace(/^events\.\d+\./, 'events.') : s;
  }

  consume(filter: string, handler: (batch: BusMessage<T>[]) => Promise<void>, opts: ConsumeOptions): Subscription {
    const spec = this.specOf(filter, true);
    const partitions = this.isPartitioned(spec)
      ? (this.o.ownedPartitions ?? Array.from({ length: this.partitions }, (_, p) => p)).filter((p) => p >= 0 && p < this.partitions)
      : [undefined];
    return this.pullLoops(filter, partitions, handler, opts);
  }

  /**
   * Consumes one host partition of an events filter through its durable consumer (the one `consume` would use
   * for it), for a process whose partitions change at run time (partition leases). Stopping it lets the batch
   * in hand finish and be acked and returns the rest for redelivery, so the next owner continues in order.
   */
  consumePartition(filter: string, partition: number, handler: (batch: BusMessage<T>[]) => Promise<void>, opts: ConsumeOptions): Subscription {
    const spec = this.specOf(filter, true);
    if (!this.isPartitioned(spec)) throw new Error(`'${filter}' is not partitioned (events with event partitions > 1)`);
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) throw new Error(`partition ${partition} is not in 0..${this.partitions - 1}`);
    return this.pullLoops(filter, [partition], handler, opts);
  }

  private pullLoops(filter: string, partitions: (number | undefined)[], handler: (batch: BusMessage<T>[]) => Promise<void>, opts: ConsumeOptions): Subscription {
    if (this.closed) throw new Error('bus closed');
    const spec = this.specOf(filter, true);
    const group = this.o.consumerGroup ?? 'vigil';
    const loops = partitions.map((p) => new PullLoop<T>({
      stream: streamName(this.o.namespace, spec),
      durable: durableName(group, filter) + (p === undefined ? '' : `_p${p}`),
      wireFilter: this.prefix + (p === undefined ? filter : filter.replace(/^events(\.|$)/, `events.${p}$1`).replace(/^events\.(\d+)$/, 'events.$1.>')),
      toSubject: (wire) => this.logicalSubject(spec, wire), handler, opts, bus: this.o, js: this.js, jsm: this.jsm,
      trim: spec.root === 'events' && this.o.trimConsumed === true,
    }));
    for (const loop of loops) {
      this.loops.add(loop);
      loop.start();
    }
    return {
      stop: async () => {
        for (const loop of loops) this.loops.delete(loop);
        await Promise.all(loops.map((l) => l.stop()));
      },
    };
  }

  /**
   * Calls `handler` with every message on `filter` published from now on, one at a time, through an ordered
   * (ephemeral, per-process, unacknowledged) consumer: every process following a filter sees every message,
   * unlike `consume`, whose durable consumer divides them. For broadcasts such as response commands.
   * Resolves once the consumer exists; an ordered consumer survives NATS reconnects on its own.
   */
  async follow(filter: string, handler: (msg: BusMessage<T>) => Promise<void>): Promise<Subscription> {
    if (this.closed) throw new Error('bus closed');
    const spec = this.specOf(filter, true);
    const loop = new FollowLoop<T>({
      stream: streamName(this.o.namespace, spec), wireFilter: this.prefix + filter,
      toSubject: (wire) => this.logicalSubject(spec, wire), handler, bus: this.o, js: this.js,
    });
    this.loops.add(loop);
    loop.start();
    await loop.started;
    return {
      stop: async () => {
        this.loops.delete(loop);
        await loop.stop();
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.loops].map((l) => l.stop()));
    this.loops.clear();
    await this.nc.drain();
  }

  /** Deletes a namespace's streams (and so their consumers): for tests and uninstall. */
  static async deleteStreams(servers: string | string[], namespace: string): Promise<void> {
    const nc = await connect({ servers });
    try {
      const jsm = await jetstreamManager(nc);
      for (const spec of VIGIL_STREAMS) {
        try {
          await jsm.streams.delete(streamName(namespace, spec));
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
    } finally {
      await nc.close();
    }
  }
}

/** A stream's name in a namespace: `<NS>_EVENTS`, or `VIGIL_EVENTS` without one. */
export function streamName(namespace: string | undefined, spec: StreamSpec): string {
  return `${namespace ? namespace.toUpperCase() : 'VIGIL'}_${spec.name}`;
}

/**
 * The servers of the cluster this connection reached: a clustered server announces every member's client URL
 * (`connect_urls`, itself included); a lone server announces no cluster.
 */
function clusterServers(nc: NatsConnection): number {
  const info = nc.info;
  if (!info?.cluster) return 1;
  return Math.max(1, new Set(info.connect_urls ?? []).size);
}

function isNotFound(err: unknown): boolean {
  return err instanceof Error && /not found/i.test(err.message);
}

interface FollowLoopOptions<T> {
  stream: string;
  wireFilter: string;
  toSubject: (wire: string) => string;
  handler: (msg: BusMessage<T>) => Promise<void>;
  bus: JetStreamBusOptions<T>;
  js: JetStreamClient;
}

/** One ordered consumer from the newest message on; a failed handler is reported, never retried. */
class FollowLoop<T> {
  private readonly o: FollowLoopOptions<T>;
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private done: Promise<void> = Promise.resolve();
  private ready!: () => void;
  /** Resolves once the consumer exists: messages published after that are seen. */
  readonly started = new Promise<void>((resolve) => { this.ready = resolve; });

  constructor(o: FollowLoopOptions<T>) {
    this.o = o;
  }

  start(): void {
    this.done = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        const consumer = await this.o.js.consumers.get(this.o.stream, { filter_subjects: this.o.wireFilter, deliver_policy: DeliverPolicy.New });
        if (this.stopped) return;
        this.messages = await consumer.consume();
        this.ready();
        for await (const m of this.messages) await this.handle(m);
      } catch (err) {
        this.o.bus.onConsumerError?.(this.o.wireFilter, err instanceof Error ? err : new Error(String(err)));
        if (!this.stopped) await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async handle(m: JsMsg): Promise<void> {
    let payload: T;
    try {
      payload = this.o.bus.codec.decode(m.data);
    } catch (err) {
      this.o.bus.onUndecodable?.(m.subject, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    await this.o.handler({ subject: this.o.toSubject(m.subject), id: m.headers?.get('Nats-Msg-Id') ?? `${m.info.stream}:${m.seq}`, payload })
      .catch((err: unknown) => this.o.bus.onConsumerError?.(this.o.wireFilter, err instanceof Error ? err : new Error(String(err))));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.ready();
    await this.messages?.close();
    await this.done.catch(() => undefined);
  }
}

interface PullLoopOptions<T> {
  stream: string;
  durable: string;
  wireFilter: string;
  toSubject: (wire: string) => string;
  handler: (batch: BusMessage<T>[]) => Promise<void>;
  opts: ConsumeOptions;
  bus: JetStreamBusOptions<T>;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Purge what this consumer acknowledged from the stream (the events stream with `trimConsumed`). */
  trim: boolean;
}

/**
 * One durable pull consumer: the client pulls into a bounded buffer; batches of up to maxBatch (waiting up to
 * maxWaitMs to fill one) go to the handler one at a time, then are acked, or nak'ed for redelivery.
 */
class PullLoop<T> {
  private readonly o: PullLoopOptions<T>;
  private readonly buffer: JsMsg[] = [];
  private messages: ConsumerMessages | undefined;
  private stopped = false;
  private wake: (() => void) | undefined;
  private room: (() => void) | undefined;
  private done: Promise<void> = Promise.resolve();

  constructor(o: PullLoopOptions<T>) {
    this.o = o;
  }

  private trimTimer: NodeJS.Timeout | undefined;

  start(): void {
    this.done = Promise.all([this.pull(), this.deliver()]).then(() => undefined);
    if (this.o.trim) {
      const every = this.o.bus.trimIntervalMs ?? 2000;
      const tick = () => { this.trimTimer = setTimeout(() => { void this.trimAcknowledged().finally(() => { if (!this.stopped) tick(); }); }, every); };
      tick();
    }
  }

  /**
   * Purges this consumer's messages below its ack floor (every message up to it is acknowledged, so stored): its
   * filter's subjects only, which no other consumer of the stream reads. An error is reported and retried next time.
   */
  private async trimAcknowledged(): Promise<void> {
    try {
      const info = await this.o.jsm.consumers.info(this.o.stream, this.o.durable);
      const floor = info.ack_floor.stream_seq;
      if (floor > this.trimmedTo) {
        await this.o.jsm.streams.purge(this.o.stream, { filter: this.o.wireFilter, seq: floor + 1 });
        this.trimmedTo = floor;
      }
    } catch (err) {
      if (!this.stopped) this.o.bus.onConsumerError?.(this.o.wireFilter, err instanceof Error ? err : new Error(`trim: ${String(err)}`));
    }
  }

  private trimmedTo = 0;

  private async pull(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.pullMessages();
      } catch (err) {
        this.o.bus.onConsumerError?.(this.o.wireFilter, err instanceof Error ? err : new Error(String(err)));
        if (!this.stopped) await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private async pullMessages(): Promise<void> {
    const { opts, bus } = this.o;
    await this.o.jsm.consumers.add(this.o.stream, {
      durable_name: this.o.durable, filter_subject: this.o.wireFilter, ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All, ack_wait: nanos(bus.ackWaitMs ?? 30_000),
      max_ack_pending: bus.maxAckPending ?? 20_000,
    });
    if (this.stopped) return;
    const consumer = await this.o.js.consumers.get(this.o.stream, this.o.durable);
    this.messages = await consumer.consume({ max_messages: Math.max(2 * opts.maxBatch, 16) });
    if (this.stopped) this.messages.stop();
    for await (const m of this.messages) {
      this.buffer.push(m);
      this.signal();
      if (this.buffer.length >= 2 * opts.maxBatch) await new Promise<void>((r) => { this.room = r; });
    }
  }

  private signal(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  private waitForMessages(ms: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
      this.wake = () => { clearTimeout(timer); resolve(); };
    });
  }

  private async deliver(): Promise<void> {
    const { maxBatch, maxWaitMs } = this.o.opts;
    while (!this.stopped) {
      if (this.buffer.length === 0) await this.waitForMessages(undefined);
      const deadline = Date.now() + maxWaitMs;
      while (!this.stopped && this.buffer.length < maxBatch && Date.now() < deadline) {
        await this.waitForMessages(deadline - Date.now());
      }
      if (this.stopped) break;
      const batch = this.buffer.splice(0, maxBatch);
      const r = this.room;
      this.room = undefined;
      r?.();
      await this.handle(batch);
    }
  }

  private async handle(batch: JsMsg[]): Promise<void> {
    const good: { m: JsMsg; msg: BusMessage<T> }[] = [];
    for (const m of batch) {
      try {
        const payload = this.o.bus.codec.decode(m.data);
        good.push({ m, msg: {
          subject: this.o.toSubject(m.subject), id: m.headers?.get('Nats-Msg-Id') ?? `${m.info.stream}:${m.seq}`, payload,
          ...(m.redelivered ? { redelivered: true } : {}), // delivery count > 1: after ack_wait or a nak
        } });
      } catch (err) {
        m.term();
        this.o.bus.onUndecodable?.(m.subject, err instanceof Error ? err : new Error(String(err)));
      }
    }
    if (good.length === 0) return;
    try {
      await this.o.handler(good.map((g) => g.msg));
      for (const g of good) g.m.ack();
    } catch {
      for (const g of good) g.m.nak(this.o.bus.redeliveryDelayMs ?? 1000);
    }
  }

  /** Stops pulling, lets the batch in the handler finish (and be acked), returns the rest for redelivery. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.trimTimer);
    this.signal();
    this.room?.();
    this.messages?.stop();
    await this.done.catch(() => undefined);
    for (const m of this.buffer.splice(0)) m.nak();
  }
}
