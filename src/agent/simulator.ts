// A simulated agent for load tests and benchmarks: enrols exactly like a real agent, then streams
// synthetic but schema-true process events over the same mutual-TLS gRPC stream, one acknowledgement
// awaited per batch so that every batch's ack latency is measured. It keeps no spool: what it reports
// as acknowledged is exactly what the server promised to have stored.

import { ProcessCache } from './process-cache.ts';
import { buildEvent, createBuildContext, type BuildContext } from './events.ts';
import { enrollWithNewKey, type EnrolledIdentity } from './enrolment.ts';
import { createClient, openStream } from './transport.ts';
import { decodeServerMessage, encodeAgentMessage, encodeSchemaEventsPayload, frameBatch } from '../schema/wire.ts';
import type { EventError } from '../schema/wire.ts';
import type { VigilEvent } from '../schema/event.ts';

export interface BatchAckResult {
  seq: number;
  accepted: number;
  errors: EventError[];
  latencyMs: number;
}

export interface PreparedBatch { seq: number; frame: Buffer; events: number }

interface Waiter { resolve(r: BatchAckResult): void; reject(e: Error): void; sentAt: number }

const EXECUTABLES = ['/usr/bin/bash', '/usr/bin/python3', '/usr/bin/curl', '/usr/sbin/sshd', '/usr/bin/git', '/usr/bin/tar'];

export class SimulatedAgent {
  readonly identity: EnrolledIdentity;
  private readonly server: string;
  private client: ReturnType<typeof createClient> | undefined;
  private stream: ReturnType<typeof openStream> | undefined;
  private readonly waiting = new Map<number, Waiter>();
  private seq = 0;
  private pid = 1000;
  private readonly ctx: BuildContext;

  private constructor(server: string, identity: EnrolledIdentity, name: string) {
    this.server = server;
    this.identity = identity;
    this.ctx = createBuildContext({
      hostId: identity.agentId,
      agent: { id: identity.agentId, hostname: name, tenantId: identity.tenantId, version: 'simulator' },
      host: { os: { platform: 'linux', kernel: 'simulated' } },
      cache: new ProcessCache(identity.agentId, { maxEntries: 10_000 }),
    });
  }

  static async enroll(server: string, caPem: string, token: string, name: string): Promise<SimulatedAgent> {
    const identity = await enrollWithNewKey(server, caPem, token, { hostname: name, os: 'linux', kernel: 'simulated', agentVersion: 'simulator' });
    return new SimulatedAgent(server, identity, name);
  }

  /** Opens the stream (again, after a failure). */
  connect(): void {
    this.client ??= createClient(this.server, this.identity);
    const stream = openStream(this.client);
    this.stream = stream;
    stream.on('data', (bytes: Buffer) => this.onMessage(bytes));
    const fail = (err: Error) => this.failAll(stream, err);
    stream.on('error', fail);
    stream.on('end', () => fail(new Error('stream ended by server')));
  }

  /** `count` new process_start events (each a fresh process with a parent), built by the agent's code; all of `command` when given. */
  syntheticEvents(count: number, command?: { executable: string; args: string[] }): VigilEvent[] {
    const events: VigilEvent[] = [];
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      const pid = ++this.pid;
      const exe = command?.executable ?? EXECUTABLES[pid % EXECUTABLES.length];
      events.push(buildEvent({
        type: 'process_start', timeMs: now, pid, ppid: 1, uid: 1000, startTimeMs: now - (pid % 1000),
        executable: exe, args: command?.args ?? [exe, '--simulated', `task-${pid}`], cwd: '/home/sim',
      }, this.ctx));
    }
    return events;
  }

  /** process_end events for processes of earlier synthetic process_start events (same entity ids). */
  syntheticExits(starts: VigilEvent[]): VigilEvent[] {
    const now = Date.now();
    return starts.map((e) => buildEvent({
      type: 'process_end', timeMs: now, pid: e.process!.pid!, ppid: 1, uid: 1000, exitCode: 0,
      startTimeMs: Date.parse(e.process!.start!), executable: e.process!.executable,
    }, this.ctx));
  }

  /** Sends one batch; resolves with the server's acknowledgement, rejects if the stream fails first. */
  send(events: VigilEvent[]): Promise<BatchAckResult> {
    return this.sendPrepared(this.prepare(events));
  }

  /** Encodes a batch ahead of time (benchmarks keep encoding out of the measured time). */
  prepare(events: VigilEvent[]): PreparedBatch {
    const seq = ++this.seq;
    return { seq, frame: frameBatch(seq, encodeSchemaEventsPayload(events)), events: events.length };
  }

  sendPrepared(b: PreparedBatch): Promise<BatchAckResult> {
    const stream = this.stream;
    if (!stream) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      this.waiting.set(b.seq, { resolve, reject, sentAt: performance.now() });
      stream.write(b.frame);
    });
  }

  /** Sends raw bytes as an agent message (for malformed-input tests). */
  sendRaw(bytes: Buffer): void {
    this.stream?.write(bytes);
  }

  heartbeat(): void {
    this.stream?.write(encodeAgentMessage({ heartbeat: { version: 'simulator', sensor_mode: 'simulated' } }));
  }

  private onMessage(bytes: Buffer): void {
    const msg = decodeServerMessage(bytes);
    if (msg.body === 'ack') {
      const w = this.waiting.get(msg.ack.seq);
      this.waiting.delete(msg.ack.seq);
      w?.resolve({ seq: msg.ack.seq, accepted: msg.ack.accepted, errors: msg.ack.errors ?? [], latencyMs: performance.now() - w.sentAt });
    } else if (msg.body === 'reject') {
      const w = this.waiting.get(msg.reject.seq);
      this.waiting.delete(msg.reject.seq);
      w?.reject(new Error(`batch refused: ${msg.reject.error}`));
    }
  }

  private failAll(stream: ReturnType<typeof openStream>, err: Error): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    for (const w of this.waiting.values()) w.reject(err);
    this.waiting.clear();
  }

  close(): void {
    this.stream?.end();
    this.stream = undefined;
    this.client?.close();
    this.client = undefined;
  }
}
