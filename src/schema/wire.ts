// The wire codec: encodes and decodes the protobuf messages of vigil.proto with protobufjs, and maps a
// wire `Event` to and from the schema's VigilEvent (the only difference is `timestamp` ↔ `@timestamp`).
// Event batches, ingest's hot path, are read by batch-reader.ts straight into schema-shaped events, and
// the agent's, its hot path, written by batch-writer.ts straight from them.

import protobuf from 'protobufjs';
import { fileURLToPath } from 'node:url';
import { batchReader } from './batch-reader.ts';
import { eventsWriters, type EventsWriter } from './batch-writer.ts';
import type { VigilEvent } from './event.ts';

export const PROTO_PATH = fileURLToPath(new URL('./vigil.proto', import.meta.url));

const root = new protobuf.Root().loadSync(PROTO_PATH, { keepCase: true });
const type = (name: string) => root.lookupType(`vigil.v1.${name}`);

export const AgentMessageType = type('AgentMessage');
export const ServerMessageType = type('ServerMessage');
export const EnrollRequestType = type('EnrollRequest');
export const EnrollResponseType = type('EnrollResponse');

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, enums: String, defaults: false };

export interface EventError { index: number; error: string }
export interface Heartbeat {
  version?: string; sensor_mode?: string; sensor_detail?: string; queue_depth?: number; spool_bytes?: number;
  sensor_drops?: number; agent_drops?: number; rss_bytes?: number; cpu_pct?: number; hostname?: string;
  os?: string; kernel?: string; sensor_restarts?: number; events_sent?: number; isolated?: boolean;
}
export interface WireCommand {
  id: string; action: string; params_json?: string; requested_by?: string; requested_at?: string; expires_at?: string;
}
export interface CommandResult { id: string; status: string; result_json?: string; error?: string }
export interface ArtifactChunk { command_id: string; seq: number; data: Uint8Array; last?: boolean; sha256?: string }
export interface ArtifactAck { command_id: string; seq: number; error?: string }
export interface DatasetRef { id: string; name: string; version: string; bytes: number }
export interface WirePolicy { name: string; version: number; document_json: string; datasets?: DatasetRef[]; dlp_key?: Uint8Array }
export interface PolicyAck { name: string; version: number; error?: string; datasets?: string[] }
export interface DatasetRequest { id: string; version: string; offset?: number }
export interface DatasetChunk { id: string; version: string; offset?: number; data?: Uint8Array; last?: boolean; error?: string }

/** A decoded agent message; a batch's `events` are schema-shaped but not yet validated (validateEvent). */
export type AgentMessage =
  | { body: 'batch'; batch: { seq: number; events: Record<string, unknown>[] } }
  | { body: 'heartbeat'; heartbeat: Heartbeat }
  | { body: 'command_result'; command_result: CommandResult }
  | { body: 'artifact_chunk'; artifact_chunk: ArtifactChunk }
  | { body: 'policy_ack'; policy_ack: PolicyAck }
  | { body: 'dataset_request'; dataset_request: DatasetRequest };

export type ServerMessage =
  | { body: 'ack'; ack: { seq: number; accepted: number; errors?: EventError[]; truncated?: number } }
  | { body: 'reject'; reject: { seq: number; error: string } }
  | { body: 'command'; command: WireCommand }
  | { body: 'artifact_ack'; artifact_ack: ArtifactAck }
  | { body: 'policy'; policy: WirePolicy }
  | { body: 'dataset_chunk'; dataset_chunk: DatasetChunk };

export interface EnrollRequest {
  token: string; csr_pem: string; hostname?: string; os?: string; kernel?: string; agent_version?: string; machine_id?: string;
}
export interface EnrollResponse { agent_id: string; tenant_id: string; certificate_pem: string; ca_pem: string }

function encode(t: protobuf.Type, value: object): Buffer {
  const err = t.verify(value);
  if (err) throw new Error(`cannot encode ${t.name}: ${err}`);
  return Buffer.from(t.encode(t.fromObject(value)).finish());
}

/** Decodes a message; throws an Error whose message says what is malformed. */
function decode<T>(t: protobuf.Type, bytes: Uint8Array): T {
  try {
    const obj = t.toObject(t.decode(bytes), TO_OBJECT);
    const body = t.oneofs?.body?.oneof.find((name) => obj[name] !== undefined);
    return (body ? { body, ...obj } : obj) as T;
  } catch (err) {
    throw new Error(`malformed ${t.name}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export const encodeAgentMessage = (m: object): Buffer => encode(AgentMessageType, m);
const readBatch = batchReader(AgentMessageType);

/** Decodes an agent message; throws an Error whose message says what is malformed. */
export function decodeAgentMessage(b: Uint8Array): AgentMessage {
  let batch;
  try {
    batch = readBatch(b);
  } catch (err) {
    throw new Error(`malformed AgentMessage: ${(err as Error).message}`);
  }
  return batch ? { body: 'batch', batch } : decode(AgentMessageType, b);
}

export const encodeServerMessage = (m: ServerMessage | Omit<ServerMessage, 'body'>): Buffer => encode(ServerMessageType, m);
export const decodeServerMessage = (b: Uint8Array): ServerMessage => decode(ServerMessageType, b);
export const encodeEnrollRequest = (m: EnrollRequest): Buffer => encode(EnrollRequestType, m);
export const decodeEnrollRequest = (b: Uint8Array): EnrollRequest => decode(EnrollRequestType, b);
export const encodeEnrollResponse = (m: EnrollResponse): Buffer => encode(EnrollResponseType, m);
export const decodeEnrollResponse = (b: Uint8Array): EnrollResponse => decode(EnrollResponseType, b);

/** Schema event → wire event object (ready for an EventBatch). */
export function toWireEvent(e: VigilEvent): Record<string, unknown> {
  const { '@timestamp': timestamp, winlog: _winlog, ...rest } = e;
  return { timestamp, ...rest };
}

/** An encoded EventBatch message, built from events already in wire form. */
export function encodeBatch(seq: number, events: Record<string, unknown>[]): Buffer {
  return encodeAgentMessage({ batch: { seq, events } });
}

// ---- the agent's hot path: events straight to bytes (batch-writer.ts) ----

const EventBatchType = type('EventBatch');
const schemaEventsWriters = eventsWriters(EventBatchType, '@timestamp');
const wireEvents = eventsWriters(EventBatchType, 'timestamp')();
const schemaEvents = schemaEventsWriters();

function payload(writer: EventsWriter, events: readonly object[]): Buffer {
  for (const e of events) writer.add(e);
  return writer.take();
}

/**
 * The events of a batch, encoded once (an EventBatch without its seq). The agent spools these bytes and
 * frames them with the spool's sequence number when sending (frameBatch), so nothing is re-encoded.
 */
export const encodeEventsPayload = (events: readonly Record<string, unknown>[]): Buffer => payload(wireEvents, events);

/** encodeEventsPayload for schema events, without making their wire form first (winlog is not sent). */
export const encodeSchemaEventsPayload = (events: readonly VigilEvent[]): Buffer => payload(schemaEvents, events);

/** A writer of schema events into an encodeSchemaEventsPayload batch, one event at a time (the agent's batches). */
export const schemaEventsWriter = (): EventsWriter => schemaEventsWriters();
export type { EventsWriter };

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** AgentMessage{batch: EventBatch{seq, …events}} around an encodeEventsPayload result. */
export function frameBatch(seq: number, eventsPayload: Uint8Array): Buffer {
  const seqField = [0x08, ...varint(seq)]; // EventBatch.seq: field 1, varint
  const inner = seqField.length + eventsPayload.length;
  const head = Buffer.from([0x0a, ...varint(inner), ...seqField]); // AgentMessage.batch: field 1, length-delimited
  return Buffer.concat([head, eventsPayload]);
}
