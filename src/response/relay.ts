// The response relay of the scale-out roles, over NATS JetStream. Down: the API role's dispatcher publishes each
// message for an agent (commands, artefact acks) on `ir.<tenant>.<host>`; every ingest process follows `ir.*.*`
// with its own ordered consumer and writes the message down the agent's stream if it holds it, confirming a
// command's delivery. Up: ingest publishes the agent's results, artefact chunks, "connected" and those
// confirmations on `ir-reports.<tenant>.<host>`, which the API role consumes through one durable consumer and
// hands to the dispatcher (lifecycle, audit, artefact storage). The wire forms and their checks are pure;
// a malformed relay message is refused with a precise reason and counted, never a crash.

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { BusMessage, Subscription } from '../bus/types.ts';
import { registry } from '../metrics/registry.ts';
import type { ArtifactChunk, CommandResult, ServerMessage } from '../schema/wire.ts';
import type { AgentSender, AgentTarget, ResponseDispatcher } from './dispatcher.ts';
import type { ResponseIngestHooks } from './service.ts';

export const COMMANDS_FILTER = 'ir.*.*';
export const REPORTS_FILTER = 'ir-reports.>';

/** An agent's report as it travels from ingest to the API role (chunk bytes in base64: the payload is JSON). */
export type RelayReport =
  | { kind: 'connected' }
  | { kind: 'delivered'; command_id: string }
  | { kind: 'result'; result: CommandResult }
  | { kind: 'chunk'; command_id: string; seq: number; last: boolean; sha256?: string; data_b64: string };

/** What the relay needs of the JetStream bus (JetStreamBus<unknown> with the JSON codec). */
export interface RelayBus {
  publish(msg: BusMessage<unknown>): Promise<void>;
  follow(filter: string, handler: (msg: BusMessage<unknown>) => Promise<void>): Promise<Subscription>;
  consume(filter: string, handler: (batch: BusMessage<unknown>[]) => Promise<void>, opts: { maxBatch: number; maxWaitMs: number }): Subscription;
}

/** What the relay needs of an agent's open stream (ingest's AgentChannel): whose it is, and writing down it. */
export interface AgentStream {
  identity: { tenantId: string };
  send(msg: ServerMessage): void;
}

export class RelayError extends Error {}

const refused = new Counter({
  name: 'vigil_ir_relay_refused_total', help: 'Relayed response messages refused, by direction and reason',
  labelNames: ['direction', 'reason'], registers: [registry],
});
const publishFailures = new Counter({
  name: 'vigil_ir_relay_publish_failures_total', help: 'Response messages the relay could not publish, by direction',
  labelNames: ['direction'], registers: [registry],
});

// ---- pure: subjects and wire forms ----

export const commandSubject = (t: AgentTarget) => `ir.${t.tenantId}.${t.agentId}`;
export const reportSubject = (t: AgentTarget) => `ir-reports.${t.tenantId}.${t.agentId}`;

/** The agent of `<root>.<tenant>.<host>`. */
export function targetOf(subject: string): AgentTarget {
  const [, tenantId, agentId, ...rest] = subject.split('.');
  if (!tenantId || !agentId || rest.length) throw new RelayError(`subject: '${subject}' is not <root>.<tenant>.<host>`);
  return { tenantId, agentId };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function field<T>(o: Record<string, unknown>, key: string, type: 'string' | 'number' | 'boolean' | 'object', what: string): T {
  const v = o[key];
  if (type === 'object' ? !isObject(v) : typeof v !== type) throw new RelayError(`${what}: '${key}' must be a${type === 'object' ? 'n' : ''} ${type}`);
  return v as T;
}

const optionalString = (o: Record<string, unknown>, key: string, what: string): string | undefined =>
  o[key] === undefined ? undefined : field<string>(o, key, 'string', what);

export function chunkReport(c: ArtifactChunk): RelayReport {
  const data = c.data ?? new Uint8Array();
  return {
    kind: 'chunk', command_id: c.command_id, seq: c.seq ?? 0, last: !!c.last, ...(c.sha256 ? { sha256: c.sha256 } : {}),
    data_b64: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'),
  };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** A report from the bus, checked field by field. */
export function decodeReport(v: unknown): RelayReport {
  if (!isObject(v)) throw new RelayError('report: not an object');
  switch (v.kind) {
    case 'connected':
      return { kind: 'connected' };
    case 'delivered':
      return { kind: 'delivered', command_id: field<string>(v, 'command_id', 'string', 'delivered report') };
    case 'result': {
      const r = field<Record<string, unknown>>(v, 'result', 'object', 'result report');
      return {
        kind: 'result', result: {
          id: field<string>(r, 'id', 'string', 'result'), status: field<string>(r, 'status', 'string', 'result'),
          result_json: optionalString(r, 'result_json', 'result'), error: optionalString(r, 'error', 'result'),
        },
      };
    }
    case 'chunk': {
      const data = field<string>(v, 'data_b64', 'string', 'chunk report');
      if (!BASE64.test(data)) throw new RelayError('chunk report: data_b64 is not base64');
      const seq = field<number>(v, 'seq', 'number', 'chunk report');
      if (!Number.isSafeInteger(seq) || seq < 0) throw new RelayError('chunk report: seq must be a non-negative integer');
      return {
        kind: 'chunk', command_id: field<string>(v, 'command_id', 'string', 'chunk report'), seq,
        last: field<boolean>(v, 'last', 'boolean', 'chunk report'), sha256: optionalString(v, 'sha256', 'chunk report'), data_b64: data,
      };
    }
    default:
      throw new RelayError(`report: unknown kind ${JSON.stringify(v.kind)}`);
  }
}

/** A message for an agent from the bus: only commands and artefact acks are relayed. */
export function decodeAgentBound(v: unknown): ServerMessage {
  if (!isObject(v)) throw new RelayError('relayed message: not an object');
  if (v.body === 'command') {
    const c = field<Record<string, unknown>>(v, 'command', 'object', 'command message');
    const command = {
      id: field<string>(c, 'id', 'string', 'command'), action: field<string>(c, 'action', 'string', 'command'),
      params_json: optionalString(c, 'params_json', 'command'), requested_by: optionalString(c, 'requested_by', 'command'),
      requested_at: optionalString(c, 'requested_at', 'command'), expires_at: optionalString(c, 'expires_at', 'command'),
    };
    return { body: 'command', command };
  }
  if (v.body === 'artifact_ack') {
    const a = field<Record<string, unknown>>(v, 'artifact_ack', 'object', 'artifact_ack message');
    const ack = {
      command_id: field<string>(a, 'command_id', 'string', 'artifact_ack'), seq: field<number>(a, 'seq', 'number', 'artifact_ack'),
      error: optionalString(a, 'error', 'artifact_ack'),
    };
    return { body: 'artifact_ack', artifact_ack: ack };
  }
  throw new RelayError(`relayed message: body ${JSON.stringify(v.body)} is not relayed`);
}

// ---- I/O: the two ends ----

function refuse(direction: 'down' | 'up', log: Logger, subject: string, err: unknown): void {
  if (!(err instanceof RelayError)) throw err;
  refused.inc({ direction, reason: err.message.split(':')[0] }); // the fixed part before ':' (bounded labels)
  log.warn({ subject, reason: err.message }, 'relayed response message refused');
}

function publisher(bus: RelayBus, log: Logger, direction: 'down' | 'up') {
  return (subject: string, payload: unknown): Promise<void> =>
    bus.publish({ subject, id: randomUUID(), payload }).catch((err: unknown) => {
      publishFailures.inc({ direction });
      log.error({ err, subject }, 'response relay could not publish');
    });
}

/**
 * The API role's sender: publishes on the agent's command subject. Returns false: the ingest process holding
 * the agent's stream confirms the delivery (`delivered` report). An offline agent's command is published and
 * seen by no one; it goes again when the agent's `connected` report arrives.
 */
export function relaySender(bus: RelayBus, log: Logger): AgentSender {
  const publish = publisher(bus, log, 'down');
  return (target, msg) => {
    void publish(commandSubject(target), msg);
    return false;
  };
}

/** The API role's end: hands every report to the dispatcher (per-command order is kept by the dispatcher). */
export function consumeReports(bus: RelayBus, dispatcher: ResponseDispatcher, log: Logger): Subscription {
  const handle = (m: BusMessage<unknown>): Promise<void> => {
    let agent: AgentTarget;
    let r: RelayReport;
    try {
      agent = targetOf(m.subject);
      r = decodeReport(m.payload);
    } catch (err) {
      refuse('up', log, m.subject, err);
      return Promise.resolve();
    }
    switch (r.kind) {
      case 'connected': return dispatcher.onAgentConnected(agent);
      case 'delivered': return dispatcher.onDelivered(agent, r.command_id);
      case 'result': return dispatcher.onCommandResult(agent, r.result);
      case 'chunk': return dispatcher.onArtifactChunk(agent, {
        command_id: r.command_id, seq: r.seq, last: r.last, sha256: r.sha256, data: Buffer.from(r.data_b64, 'base64'),
      });
    }
  };
  // A failed handler (e.g. the store unreachable on reconnect) fails the batch: JetStream redelivers it.
  return bus.consume(REPORTS_FILTER, async (batch) => { await Promise.all(batch.map(handle)); }, { maxBatch: 64, maxWaitMs: 5 });
}

export interface IngestRelay {
  /** Spread into the ingest server's options. */
  hooks: ResponseIngestHooks;
  stop(): Promise<void>;
}

/**
 * The ingest role's end: follows every command subject and writes the messages for agents whose stream this
 * process holds; publishes the agents' reports. `channel(agentId)` is the ingest server's open stream, if any.
 */
export async function startIngestRelay(bus: RelayBus, channel: (agentId: string) => AgentStream | undefined, log: Logger): Promise<IngestRelay> {
  const publish = publisher(bus, log, 'up');
  const report = (agent: AgentTarget, r: RelayReport) => { void publish(reportSubject(agent), r); };
  const subscription = await bus.follow(COMMANDS_FILTER, async (m) => {
    let target: AgentTarget;
    let msg: ServerMessage;
    try {
      target = targetOf(m.subject);
      msg = decodeAgentBound(m.payload);
    } catch (err) {
      return refuse('down', log, m.subject, err);
    }
    const c = channel(target.agentId);
    if (!c || c.identity.tenantId !== target.tenantId) return; // another ingest process holds it, or none does
    c.send(msg);
    if (msg.body === 'command') report(target, { kind: 'delivered', command_id: msg.command.id });
  });
  return {
    hooks: {
      onAgentConnected: (agent) => report(agent, { kind: 'connected' }),
      onCommandResult: (agent, r) => report(agent, { kind: 'result', result: r }),
      onArtifactChunk: (agent, chunk) => report(agent, chunkReport(chunk)),
    },
    stop: () => subscription.stop(),
  };
}
