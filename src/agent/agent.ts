// The Vigil agent: enrols once, then turns sensor observations into events, batches them (100 events or
// 1 s by default; each event is encoded into its batch as it is made), writes every batch to its spool
// before sending (synced to disk within a second, see SPOOL_SYNC_MS), and streams batches to the server over mutual TLS. A batch leaves the spool only when the server acknowledges it (at-least-once); on any
// stream failure the agent reconnects with exponential backoff and jitter and re-sends what is unacked.
// Policies pushed by the server are kept in <data-dir>/policies/ (they apply from the next start too), their
// documented keys (src/agent/policy.ts) override the options, and each version is acknowledged. The DLP data sets
// a policy names are pulled down the stream by version and kept in <data-dir>/datasets/ (src/agent/dlp/datasets.ts).

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, chmodSync, renameSync } from 'node:fs';
import { hostname as osHostname, release, platform } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import {
  decodeServerMessage, encodeAgentMessage, frameBatch, schemaEventsWriter,
  type ArtifactAck, type ArtifactChunk, type CommandResult, type EventsWriter, type Heartbeat, type ServerMessage, type WireCommand, type WirePolicy,
} from '../schema/wire.ts';
import { effectiveSettings, isIgnored, settingsOf, type AgentSettings, type StoredPolicy } from './policy.ts';
import { createBuildContext, buildEvent, eventId, reconcileObservations, snapshotObservations, type BuildContext } from './events.ts';
import { AgentDlp, type DlpApplied } from './dlp/agent-dlp.ts';
import type { DlpFields, VigilEvent } from '../schema/event.ts';
import { UserNames } from './sensors/proc/users.ts';
import { ProcessCache, type ProcessRecord } from './process-cache.ts';
import { DEFAULT_HASHING, ExecutableHasher, hashExec, type HashingSettings } from './enrichment/hashing.ts';
import { ContainerResolver } from './enrichment/container.ts';
import type { Observation, Sensor } from './sensor.ts';
import { Spool, type SpooledBatch } from '../spool/spool.ts';
import { createClient, openStream } from './transport.ts';
import { enrollWithNewKey, localHostFacts, type EnrolledIdentity } from './enrolment.ts';

export const AGENT_VERSION = '0.1.0';
const RECENT_LIMIT = 256; // batches kept in memory between spooling and sending; more are read back from the spool
// Small spool segments: a batch read back from the spool (after a reconnection, or while the server lags)
// costs reading its whole segment into memory.
const SPOOL_SEGMENT_BYTES = 4 * 1024 * 1024;
// Spooled batches are fdatasync'ed once a second, not one by one: a spooled batch survives a crash or
// restart of the agent at once and one of the machine after at most this long, like the events of the
// batch still being filled (a second at most). A sync per batch (ten a second at 1,000 events/s) was the
// largest single cost of the agent on a virtual disk: each is a device cache flush and several VM exits.
const SPOOL_SYNC_MS = 1000;
const POLICY_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export interface AgentOptions {
  dataDir: string; // identity, spool and state
  server: string; // host:port of the ingest gRPC endpoint
  caPem: string; // the server's CA (trust anchor for the first connection)
  enrollmentToken?: string; // needed once, for the first start
  sensor: Sensor;
  log: Logger;
  /**
   * The processes running now (from /proc): read at start to seed the process cache and report them as
   * `snapshot` process starts, and once more when the sensor runs, to close the gap between the two.
   */
  runningProcesses?: (userName: (uid: number) => string | undefined) => ProcessRecord[];
  /** Vigil's own processes on this host (default: this one): their events and their descendants' are labelled `vigil.self`. */
  selfPids?: number[];
  /** User names for uids (default: /etc/passwd, re-read when a uid is unknown). */
  userName?: (uid: number) => string | undefined;
  /** Group names for gids (default: /etc/group, re-read when a gid is unknown). */
  groupName?: (gid: number) => string | undefined;
  batchEvents?: number;
  batchIntervalMs?: number;
  heartbeatMs?: number;
  maxInflightBatches?: number; // batches written to the stream and not yet acknowledged (default 16)
  spoolBytes?: number;
  onCommand?: (cmd: WireCommand) => void;
  /** The server stored artefact chunks (back-pressure credit for uploads). */
  onArtifactAck?: (ack: ArtifactAck) => void;
  /** Executable hashing (defaults: DEFAULT_HASHING); a policy's `hashing` overrides it. */
  hashing?: Partial<HashingSettings>;
  /** Fields the response executor adds to every heartbeat (e.g. isolation in force). */
  healthExtras?: () => Partial<Heartbeat>;
}

export class Agent {
  private readonly o: AgentOptions;
  private identity!: EnrolledIdentity;
  private spool!: Spool;
  private ctx!: BuildContext;
  private readonly pending: EventsWriter = schemaEventsWriter(); // the batch being filled, encoded event by event
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stream: ReturnType<typeof openStream> | undefined;
  private client: ReturnType<typeof createClient> | undefined;
  private readonly inflight = new Set<number>();
  private readonly acked = new Set<number>(); // acked out of order, above the spool's floor
  private nextToSend = 0; // highest seq written to the current stream
  private readonly recent = new Map<number, Uint8Array>(); // spooled while connected, not yet sent
  private backlog: Iterator<SpooledBatch> | undefined; // a read of the unacked batches in the spool
  private backlogMode = false; // `recent` overflowed: batches are sent from reads of the spool only
  private backlogMore = false; // the current read sent a batch, or one was spooled since it began: read again
  private stopped = false;
  private backoffMs = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private appends: Promise<unknown> = Promise.resolve();
  readonly counters = { eventsSent: 0, batchesAcked: 0, eventsRejected: 0, agentDrops: 0, reconnects: 0 };
  private cpuLast = process.cpuUsage();
  private cpuAt = Date.now();
  private readonly policies = new Map<string, StoredPolicy>();
  private settingsNow!: AgentSettings;
  readonly hasher = new ExecutableHasher();
  /** DLP scans of written files (policies' `dlp` sections), and each policy's DLP errors for its acknowledgement. */
  readonly dlp: AgentDlp;
  private dlpApplied = new Map<string, DlpApplied>();

  constructor(o: AgentOptions) {
    this.o = o;
    this.dlp = new AgentDlp({
      log: o.log, emit: (trigger, dlp, mitre) => this.addDlpEvent(trigger, dlp, mitre), ignorePrefixes: [o.dataDir],
      datasetDir: join(o.dataDir, 'datasets'), requestDataset: (req) => this.sendMessage({ dataset_request: req }),
      datasetsChanged: () => this.onDatasetsChanged(),
    });
  }

  get agentId(): string {
    return this.identity.agentId;
  }

  get connected(): boolean {
    return this.stream !== undefined;
  }

  /** The settings in force: the options, overridden by the stored policies. */
  get settings(): AgentSettings {
    return this.settingsNow;
  }

  /** The stored policy versions, by name. */
  policyVersions(): Record<string, number> {
    return Object.fromEntries([...this.policies.values()].map((p) => [p.name, p.version]));
  }

  async start(): Promise<void> {
    mkdirSync(this.o.dataDir, { recursive: true, mode: 0o700 });
    this.identity = await this.loadOrEnroll();
    this.spool = await Spool.open(join(this.o.dataDir, 'spool'), { maxBytes: this.o.spoolBytes, segmentBytes: SPOOL_SEGMENT_BYTES, syncIntervalMs: SPOOL_SYNC_MS });
    const cache = new ProcessCache(this.identity.agentId, { selfPids: this.o.selfPids });
    const names = new UserNames();
    const groups = new UserNames('/etc/group'); // the same name:x:id: layout as /etc/passwd
    const containers = new ContainerResolver();
    const userName = this.o.userName ?? ((uid: number) => names.lookup(uid));
    const groupName = this.o.groupName ?? ((gid: number) => groups.lookup(gid));
    if (this.o.runningProcesses) cache.seed(this.o.runningProcesses(userName));
    this.ctx = createBuildContext({
      hostId: this.identity.agentId,
      agent: { id: this.identity.agentId, hostname: osHostname(), tenantId: this.identity.tenantId, version: AGENT_VERSION },
      host: { os: { platform: platform(), kernel: release() } },
      cache, userName, groupName, containerOf: (cgroupId, pid) => containers.resolve(cgroupId, pid),
    }, this.loadSequence());
    this.loadPolicies();
    if (this.o.runningProcesses) for (const obs of snapshotObservations(cache, Date.now())) this.onObservation(obs);
    await this.o.sensor.start((obs) => this.onObservation(obs));
    if (this.o.runningProcesses) for (const obs of reconcileObservations(cache, this.o.runningProcesses(userName), Date.now())) this.onObservation(obs);
    this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.flushTimer);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.reconnectTimer);
    await this.o.sensor.stop();
    await this.dlp.stop();
    this.flush();
    await this.appends;
    await this.drainInflight(2000);
    this.stream?.end();
    this.client?.close();
    this.saveSequence();
    await this.spool.close();
  }

  private async drainInflight(timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.stream && this.inflight.size && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  // ---- identity ----

  private async loadOrEnroll(): Promise<EnrolledIdentity> {
    const path = join(this.o.dataDir, 'identity.json');
    if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as EnrolledIdentity;
    if (!this.o.enrollmentToken) throw new Error('agent is not enrolled and no enrolment token was given');
    const id = await enrollWithNewKey(this.o.server, this.o.caPem, this.o.enrollmentToken, localHostFacts(AGENT_VERSION));
    writeFileSync(path, JSON.stringify(id), { mode: 0o600 });
    chmodSync(path, 0o600);
    this.o.log.info({ agentId: id.agentId }, 'enrolled');
    return id;
  }

  private loadSequence(): number {
    const path = join(this.o.dataDir, 'sequence');
    // Sequence numbers jump ahead after a crash so they stay monotonic without a write per event.
    return existsSync(path) ? Number(readFileSync(path, 'utf8')) + 1_000_000 : 0;
  }

  private saveSequence(): void {
    writeFileSync(join(this.o.dataDir, 'sequence'), String(this.ctx.nextSequence()));
  }

  // ---- policies ----

  private get policyDir(): string {
    return join(this.o.dataDir, 'policies');
  }

  private loadPolicies(): void {
    mkdirSync(this.policyDir, { recursive: true, mode: 0o700 });
    for (const f of readdirSync(this.policyDir).filter((n) => n.endsWith('.json'))) {
      try {
        const p = JSON.parse(readFileSync(join(this.policyDir, f), 'utf8')) as StoredPolicy;
        this.policies.set(p.name, p);
      } catch (err) {
        this.o.log.warn({ err, file: f }, 'stored policy unreadable; ignored until the server sends it again');
      }
    }
    this.applySettings();
  }

  /** Recomputes the settings and (re)arms the timers they govern. */
  private applySettings(): void {
    this.settingsNow = effectiveSettings({
      batchEvents: this.o.batchEvents ?? 100, batchIntervalMs: this.o.batchIntervalMs ?? 1000,
      heartbeatMs: this.o.heartbeatMs ?? 30_000, ignoreComms: new Set(), hashing: { ...DEFAULT_HASHING, ...this.o.hashing },
    }, [...this.policies.values()]);
    this.hasher.configure(this.settingsNow.hashing);
    this.dlpApplied = this.dlp.setPolicies([...this.policies.values()]);
    clearInterval(this.flushTimer);
    clearInterval(this.heartbeatTimer);
    if (this.stopped) return;
    this.flushTimer = setInterval(() => this.flush(), this.settingsNow.batchIntervalMs);
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.settingsNow.heartbeatMs);
  }

  /** Stores and applies a pushed policy version, then acknowledges it (with what could not be applied). */
  private onPolicy(p: WirePolicy): void {
    const ack = (error: string) => this.sendMessage({ policy_ack: { name: p.name, version: p.version, error } });
    if (!POLICY_NAME.test(p.name)) return void ack('invalid policy name');
    if ((this.policies.get(p.name)?.version ?? 0) > p.version) return; // an older version arrived late
    let document: unknown;
    try {
      document = JSON.parse(p.document_json);
    } catch {
      return void ack('the policy document is not JSON');
    }
    const stored: StoredPolicy = {
      name: p.name, version: p.version, document,
      ...(p.datasets?.length ? { datasets: p.datasets, dlpKey: Buffer.from(p.dlp_key ?? []).toString('hex') } : {}),
    };
    const path = join(this.policyDir, `${p.name}.json`);
    writeFileSync(`${path}.tmp`, JSON.stringify(stored), { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
    this.policies.set(p.name, stored);
    this.applySettings();
    this.acknowledge(stored);
  }

  /** Acknowledges a policy version: what could not be applied (not recorded by the server) and the data sets loaded. */
  private acknowledge(p: StoredPolicy): void {
    const dlp = this.dlpApplied.get(p.name);
    const errors = [...settingsOf(p.document).errors, ...(dlp?.errors ?? [])];
    this.o.log.info({ policy: p.name, version: p.version, errors, datasets: dlp?.datasets }, 'policy applied');
    this.sendMessage({ policy_ack: { name: p.name, version: p.version, error: errors.join('; '), datasets: dlp?.datasets ?? [] } });
  }

  /** A data set (or the key) was loaded: the policies naming data sets apply it and are acknowledged again. */
  private onDatasetsChanged(): void {
    this.applySettings();
    for (const p of this.policies.values()) if (p.datasets?.length) this.acknowledge(p);
  }

  // ---- events → spool ----

  private onObservation(obs: Observation): void {
    hashExec(this.hasher, obs, (o) => this.onObservation(o)); // the digests when known, else a process_hash event later
    let event;
    try {
      event = buildEvent(obs, this.ctx); // always: the process cache follows ignored processes too
    } catch (err) {
      this.counters.agentDrops++;
      this.o.log.warn({ err, type: obs.type }, 'observation dropped');
      return;
    }
    if (isIgnored(this.settingsNow, event.process?.name ?? obs.comm, event.process?.executable)) return;
    this.pending.add(event); // encoded now: the event is garbage before the next scavenge, never promoted
    if (this.pending.count >= this.settingsNow.batchEvents) this.flush();
    if (event.file) this.dlp.onFileEvent(event);
  }

  /** A DLP finding: the file event that caused the scan, as a `dlp_match` with the dlp fields and MITRE tags. */
  private addDlpEvent(trigger: VigilEvent, dlp: DlpFields, mitre: string[]): void {
    this.pending.add({
      ...trigger, '@timestamp': new Date().toISOString(),
      event: { ...trigger.event, id: eventId(), action: 'dlp_match', sequence: this.ctx.nextSequence() },
      dlp, threat: { ...trigger.threat, mitre },
    });
    if (this.pending.count >= this.settingsNow.batchEvents) this.flush();
  }

  /** Moves pending events into a spooled batch and sends it when connected. */
  flush(): void {
    const count = this.pending.count;
    if (!count) return;
    const payload = this.pending.take();
    // Appended at once, not after the previous append: the spool syncs concurrent appends together.
    const appended = this.spool.append(payload).then(
      (seq) => {
        if (!this.stream) return; // re-read from the spool at the next connection
        if (this.backlogMode || this.recent.size >= RECENT_LIMIT) this.backlogMode = this.backlogMore = true;
        else this.recent.set(seq, payload);
        this.sendMore();
      },
      (err: unknown) => {
        this.counters.agentDrops += count;
        this.o.log.error({ err }, 'batch could not be spooled');
      });
    this.appends = this.appends.then(() => appended);
  }

  // ---- spool → server ----

  private connect(): void {
    if (this.stopped) return;
    this.client ??= createClient(this.o.server, { caPem: this.identity.caPem, certPem: this.identity.certPem, keyPem: this.identity.keyPem });
    const stream = openStream(this.client);
    this.stream = stream;
    this.inflight.clear();
    this.recent.clear();
    this.backlogMode = false;
    this.nextToSend = this.spool.stats().ackedSeq;
    this.backlog = this.spool.unacked();
    this.dlp.datasets.reconnected();
    stream.on('data', (bytes: Buffer) => this.onServerMessage(bytes));
    stream.on('error', (err: Error) => this.onDisconnect(stream, err));
    stream.on('end', () => this.onDisconnect(stream, new Error('stream ended by server')));
    this.heartbeat();
    this.sendMore();
  }

  private onDisconnect(stream: ReturnType<typeof openStream>, err: Error): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    this.inflight.clear();
    this.recent.clear();
    this.backlog = undefined;
    if (this.stopped) return;
    this.counters.reconnects++;
    this.backoffMs = Math.min(30_000, Math.max(250, this.backoffMs * 2));
    const delay = this.backoffMs / 2 + Math.random() * (this.backoffMs / 2);
    this.o.log.warn({ err: err.message, retryInMs: Math.round(delay) }, 'disconnected from server');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  /** Writes unacked spooled batches in order, up to the in-flight window. */
  private sendMore(): void {
    const stream = this.stream;
    const window = this.o.maxInflightBatches ?? 16;
    while (stream && this.inflight.size < window) {
      const next = this.nextBatch();
      if (!next) return;
      this.inflight.add(next.seq);
      this.recent.delete(next.seq); // a re-send after a reconnection reads it from the spool
      this.nextToSend = next.seq;
      stream.write(frameBatch(next.seq, next.batch));
    }
  }

  /**
   * The next batch after nextToSend, in sequence order: first from the current read of the spool (at
   * connection: everything unacked), then from recent appends. Once more batches were spooled than
   * `recent` holds, every batch comes from reads of the spool, repeated until a whole read finds nothing
   * to send and nothing was spooled meanwhile, so that no batch is skipped.
   */
  private nextBatch(): SpooledBatch | undefined {
    for (;;) {
      while (this.backlog) {
        const r = this.backlog.next();
        if (r.done) this.backlog = undefined;
        else if (r.value.seq > this.nextToSend && !this.acked.has(r.value.seq)) {
          this.backlogMore = true;
          return r.value;
        }
      }
      if (!this.backlogMode) break;
      if (!this.backlogMore) {
        this.backlogMode = false;
        break;
      }
      this.backlogMore = false;
      this.backlog = this.spool.unacked();
    }
    for (const [seq, batch] of this.recent) if (seq > this.nextToSend) return { seq, batch };
    return undefined;
  }

  private onServerMessage(bytes: Buffer): void {
    let msg: ServerMessage;
    try {
      msg = decodeServerMessage(bytes);
    } catch (err) {
      this.o.log.error({ err }, 'malformed message from server');
      return;
    }
    this.backoffMs = 0;
    if (msg.body === 'ack') {
      this.counters.eventsSent += msg.ack.accepted;
      this.counters.eventsRejected += msg.ack.errors?.length ?? 0;
      for (const e of msg.ack.errors ?? []) this.o.log.warn({ seq: msg.ack.seq, ...e }, 'event refused by server');
      this.settle(msg.ack.seq);
    } else if (msg.body === 'reject') {
      this.o.log.error({ seq: msg.reject.seq, error: msg.reject.error }, 'batch refused by server');
      if (msg.reject.seq) this.settle(msg.reject.seq); // refused for good: re-sending cannot help
    } else if (msg.body === 'command') {
      if (msg.command.action === 'reconnect') this.stream?.end();
      else this.o.onCommand?.(msg.command);
    } else if (msg.body === 'artifact_ack') {
      this.o.onArtifactAck?.(msg.artifact_ack);
    } else if (msg.body === 'policy') {
      this.onPolicy(msg.policy);
    } else if (msg.body === 'dataset_chunk') {
      this.dlp.onDatasetChunk(msg.dataset_chunk);
    }
  }

  /** Marks a batch done and advances the spool's floor over every contiguous settled batch. */
  private settle(seq: number): void {
    this.inflight.delete(seq);
    this.acked.add(seq);
    this.counters.batchesAcked++;
    let floor = this.spool.stats().ackedSeq;
    while (this.acked.has(floor + 1)) this.acked.delete(++floor);
    this.spool.ack(floor);
    this.sendMore();
  }

  // ---- health ----

  health() {
    const cpu = process.cpuUsage(this.cpuLast);
    const now = Date.now();
    const cpuPct = ((cpu.user + cpu.system) / 1000 / Math.max(1, now - this.cpuAt)) * 100;
    this.cpuLast = process.cpuUsage();
    this.cpuAt = now;
    const s = this.o.sensor.health();
    const spool = this.spool.stats();
    return {
      version: AGENT_VERSION, sensor_mode: s.mode, sensor_detail: s.detail ?? '', queue_depth: spool.unacked,
      spool_bytes: spool.bytes, sensor_drops: s.drops, agent_drops: this.counters.agentDrops + spool.dropped,
      sensor_restarts: s.restarts, rss_bytes: process.memoryUsage.rss(), cpu_pct: Math.round(cpuPct * 100) / 100,
      hostname: osHostname(), os: platform(), kernel: release(), events_sent: this.counters.eventsSent,
      ...this.o.healthExtras?.(),
    };
  }

  /** Sends a command result up the open stream; false when disconnected (the server re-delivers the command). */
  sendCommandResult(r: CommandResult): boolean {
    return this.sendMessage({ command_result: r });
  }

  /** Sends one artefact chunk up the open stream; false when disconnected. */
  sendArtifactChunk(c: ArtifactChunk): boolean {
    return this.sendMessage({ artifact_chunk: c });
  }

  private sendMessage(m: object): boolean {
    if (!this.stream) return false;
    this.stream.write(encodeAgentMessage(m));
    return true;
  }

  /** Sends a heartbeat now (e.g. after isolation changed). */
  heartbeat(): void {
    this.stream?.write(encodeAgentMessage({ heartbeat: this.health() }));
  }
}
