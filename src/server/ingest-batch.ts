// An agent's event batch as ingest accepts it, and its form on the bus. Ingest validates every decoded event
// and stamps it (agent and tenant from the certificate, never from the event; the time it was received).
// When every event passed as sent (none rejected, nothing cut), the batch goes on the bus as the agent's
// own protobuf message plus the stamp, so ingest does not serialise the events again and the bus carries
// about half the bytes; otherwise as the stamped events in JSON. Reading either form gives the same events,
// key for key. Pure.

import type { PayloadCodec } from '../bus/codec.ts';
import type { Bus } from '../bus/types.ts';
import type { VigilEvent } from '../schema/event.ts';
import { validateEvent } from '../schema/validate.ts';
import { decodeAgentMessage, type EventError } from '../schema/wire.ts';

/** What ingest sets on every event of a batch. */
export interface Stamp { agentId: string; tenantId: string; ingested: string }

export interface AcceptedBatch {
  /** The events to store: validated and stamped. */
  events: VigilEvent[];
  stamp: Stamp;
  /** The agent's message, when `events` are exactly what it carries but for the stamp. */
  message?: Uint8Array;
}

/**
 * A bus of encoded batches (the embedded log, JetStream) as ingest's destination: it takes each accepted
 * batch in its encodeAcceptedBatch form, which consumers read with eventBatchCodec. `onPublished` gets the
 * time from publish to the bus's acknowledgement (JetStream's PubAck).
 */
export function publishingBatches(bus: Pick<Bus<Uint8Array>, 'publish'>, onPublished?: (seconds: number) => void): Pick<Bus<AcceptedBatch>, 'publish'> {
  return {
    publish: async (m) => {
      const payload = encodeAcceptedBatch(m.payload);
      const started = performance.now();
      await bus.publish({ subject: m.subject, id: m.id, payload });
      onPublished?.((performance.now() - started) / 1000);
    },
  };
}

/** The agent and tenant of the stamp, before validation (which requires them). */
function stampIdentity(e: Record<string, unknown>, s: Stamp): void {
  const agent = (e.agent ??= {}) as Record<string, unknown>;
  agent.id = s.agentId;
  agent.tenant_id = s.tenantId;
}

/** Validates and stamps `decoded`, the events read from `message` (in place: they become the batch's events). */
export function acceptBatch(stamp: Stamp, message: Uint8Array, decoded: Record<string, unknown>[]): { batch: AcceptedBatch; errors: EventError[]; truncated: number } {
  const events: VigilEvent[] = [];
  const errors: EventError[] = [];
  let truncated = 0;
  for (let index = 0; index < decoded.length; index++) {
    stampIdentity(decoded[index], stamp);
    const r = validateEvent(decoded[index]);
    if (!r.ok) {
      errors.push({ index, error: r.error });
      continue;
    }
    r.event.event.ingested = stamp.ingested;
    if (r.truncated.length) truncated++;
    events.push(r.event);
  }
  return { batch: { events, stamp, message: errors.length === 0 && truncated === 0 ? message : undefined }, errors, truncated };
}

// The message form: [MESSAGE_FORM][u16 stamp length][stamp JSON][the agent's message]. JSON starts with '['.
const MESSAGE_FORM = 0x00;

/** The bus payload of an accepted batch (read back with eventBatchCodec). */
export function encodeAcceptedBatch(b: AcceptedBatch): Uint8Array {
  if (!b.message) return eventBatchCodec.encode(b.events);
  const stamp = JSON.stringify(b.stamp);
  const out = Buffer.allocUnsafe(3 + Buffer.byteLength(stamp) + b.message.length);
  out[0] = MESSAGE_FORM;
  const end = 3 + out.write(stamp, 3);
  out.writeUInt16BE(end - 3, 1);
  out.set(b.message, end);
  return out;
}

function decodeMessageForm(bytes: Buffer): VigilEvent[] {
  const end = 3 + bytes.readUInt16BE(1);
  const stamp = JSON.parse(bytes.toString('utf8', 3, end)) as Stamp;
  const msg = decodeAgentMessage(bytes.subarray(end));
  if (msg.body !== 'batch') throw new Error('bus payload: the agent message carries no batch');
  for (const e of msg.batch.events) {
    stampIdentity(e, stamp);
    (e as unknown as VigilEvent).event.ingested = stamp.ingested;
  }
  return msg.batch.events as unknown as VigilEvent[];
}

/** The first bytes the JSON encoder writes per event: grown to fit as it goes. */
const INITIAL_BYTES_PER_EVENT = 1024;

/**
 * Event batches on a bus: encodes to a JSON array (each event serialised on its own, which costs about
 * half of serialising the array as one string), decodes that or the message form.
 */
export const eventBatchCodec: PayloadCodec<VigilEvent[]> = {
  encode(events) {
    let out = Buffer.allocUnsafe(2 + events.length * INITIAL_BYTES_PER_EVENT);
    let n = 0;
    out[n++] = 0x5b; // [
    for (let i = 0; i < events.length; i++) {
      const json = JSON.stringify(events[i]) ?? 'null';
      const need = n + 1 + 3 * json.length + 1; // a UTF-16 code unit is at most 3 bytes of UTF-8
      if (need > out.length) {
        const grown = Buffer.allocUnsafe(Math.max(need, 2 * out.length));
        out.copy(grown, 0, 0, n);
        out = grown;
      }
      if (i > 0) out[n++] = 0x2c; // ,
      n += out.write(json, n);
    }
    out[n++] = 0x5d; // ]
    return Buffer.from(out.subarray(0, n)); // a copy of its own size (a view would keep the slack alive)
  },
  decode(bytes) {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (buf[0] === MESSAGE_FORM) return decodeMessageForm(buf);
    return JSON.parse(buf.toString('utf8')) as VigilEvent[];
  },
};
