// The system suite's agent: enrolled exactly as a real agent (SimulatedAgent.enroll, src/agent/simulator.ts),
// with the simulator's synthetic events, and a stream the test holds itself: every message the server sends
// down it (acknowledgements, response commands, policies) is kept and can be awaited, and the test answers
// commands and policies as an agent would (command results, policy acknowledgements). Reconnects on demand only.

import type * as grpc from '@grpc/grpc-js';
import type { EnrolledIdentity } from '../../src/agent/enrolment.ts';
import { SimulatedAgent } from '../../src/agent/simulator.ts';
import { createClient, openStream } from '../../src/agent/transport.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import {
  decodeServerMessage, encodeAgentMessage, encodeSchemaEventsPayload, frameBatch,
  type CommandResult, type EventError, type PolicyAck, type ServerMessage, type WireCommand, type WirePolicy,
} from '../../src/schema/wire.ts';

export interface Ack { seq: number; accepted: number; errors: EventError[] }

export class SystemAgent {
  readonly sim: SimulatedAgent;
  readonly server: string;
  /** Every server message of every stream this agent opened, in arrival order. */
  readonly received: ServerMessage[] = [];
  /** How the current stream ended (its gRPC error), once it has. */
  ended: grpc.ServiceError | Error | undefined;
  private client: ReturnType<typeof createClient> | undefined;
  private stream: ReturnType<typeof openStream> | undefined;
  private readonly waiting = new Map<number, { resolve(a: Ack): void; reject(e: Error): void }>();
  private seq = 0;

  private constructor(server: string, sim: SimulatedAgent) {
    this.server = server;
    this.sim = sim;
  }

  static async enroll(server: string, caPem: string, token: string, name: string): Promise<SystemAgent> {
    return new SystemAgent(server, await SimulatedAgent.enroll(server, caPem, token, name));
  }

  get identity(): EnrolledIdentity { return this.sim.identity; }
  get id(): string { return this.sim.identity.agentId; }
  get connected(): boolean { return this.stream !== undefined && this.ended === undefined; }

  /** Opens a stream (a new one after the last ended) and sends a heartbeat on it, as an agent does. */
  connect(): void {
    this.client ??= createClient(this.server, this.sim.identity);
    const stream = openStream(this.client);
    this.stream = stream;
    this.ended = undefined;
    stream.on('data', (bytes: Buffer) => this.onMessage(decodeServerMessage(bytes)));
    const fail = (err: Error) => {
      if (this.stream !== stream) return;
      this.ended ??= err;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    stream.on('error', fail);
    stream.on('end', () => fail(new Error('stream ended by server')));
    stream.write(encodeAgentMessage({ heartbeat: { version: 'system-test', sensor_mode: 'simulated', hostname: 'system-test' } }));
  }

  events(count: number, command?: { executable: string; args: string[] }): VigilEvent[] {
    return this.sim.syntheticEvents(count, command);
  }

  /** Sends one batch; resolves with its acknowledgement, rejects if refused or the stream fails first. */
  send(events: VigilEvent[]): Promise<Ack> {
    const stream = this.stream;
    if (!stream || this.ended) return Promise.reject(new Error('not connected'));
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, { resolve, reject });
      stream.write(frameBatch(seq, encodeSchemaEventsPayload(events)));
    });
  }

  reply(result: CommandResult): void {
    this.stream?.write(encodeAgentMessage({ command_result: result }));
  }

  ackPolicy(ack: PolicyAck): void {
    this.stream?.write(encodeAgentMessage({ policy_ack: ack }));
  }

  commands(): WireCommand[] {
    return this.received.flatMap((m) => (m.body === 'command' ? [m.command] : []));
  }

  policies(): WirePolicy[] {
    return this.received.flatMap((m) => (m.body === 'policy' ? [m.policy] : []));
  }

  /** Resolves with the first received message `pick` accepts (earlier ones included), within `timeoutMs`. */
  async waitFor<T>(what: string, pick: (m: ServerMessage) => T | undefined, timeoutMs = 20_000): Promise<T> {
    for (const end = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 25))) {
      for (const m of this.received) {
        const v = pick(m);
        if (v !== undefined) return v;
      }
      if (Date.now() > end) throw new Error(`agent ${this.id}: timed out waiting for ${what}; received ${JSON.stringify(this.received.map((m) => m.body))}`);
    }
  }

  /** Resolves with how the current stream ended, within `timeoutMs`. */
  async waitEnded(timeoutMs = 20_000): Promise<grpc.ServiceError | Error> {
    for (const end = Date.now() + timeoutMs; ; await new Promise((r) => setTimeout(r, 25))) {
      if (this.ended) return this.ended;
      if (Date.now() > end) throw new Error(`agent ${this.id}: the stream is still open after ${timeoutMs} ms`);
    }
  }

  private onMessage(msg: ServerMessage): void {
    this.received.push(msg);
    if (msg.body === 'ack' || msg.body === 'reject') {
      const seq = msg.body === 'ack' ? msg.ack.seq : msg.reject.seq;
      const w = this.waiting.get(seq);
      this.waiting.delete(seq);
      if (msg.body === 'ack') w?.resolve({ seq, accepted: msg.ack.accepted, errors: msg.ack.errors ?? [] });
      else w?.reject(new Error(`batch refused: ${msg.reject.error}`));
    }
  }

  close(): void {
    this.stream?.end();
    this.stream?.cancel();
    this.stream = undefined;
    this.client?.close();
    this.client = undefined;
  }
}
