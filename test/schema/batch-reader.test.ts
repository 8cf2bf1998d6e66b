// The event batch reader (batch-reader.ts, through decodeAgentMessage) against protobufjs's decode +
// toObject, the reading it replaces: every field, explicit defaults, extremes, unknown and repeated
// fields, huge values, every truncation and random corruptions of a batch, and precise errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import protobuf from 'protobufjs';
import type { VigilEvent } from '../../src/schema/event.ts';
import { fullEvent } from '../support/events.ts';
import { AgentMessageType, decodeAgentMessage, encodeAgentMessage, encodeBatch, toWireEvent } from '../../src/schema/wire.ts';

/** What protobufjs reads, with the batch's events schema-shaped (the reading before batch-reader.ts). */
function reference(bytes: Uint8Array): { seq: number; events: Record<string, unknown>[] } {
  const o = AgentMessageType.toObject(AgentMessageType.decode(bytes), { longs: Number, enums: String, defaults: false });
  const batch = o.batch as { seq?: number; events?: Record<string, unknown>[] };
  const rename = (e: Record<string, unknown>) => Object.fromEntries(Object.entries(e).map(([k, v]) => [k === 'timestamp' ? '@timestamp' : k, v]));
  return { seq: batch.seq ?? 0, events: (batch.events ?? []).map(rename) };
}

function decodedBatch(bytes: Uint8Array): { seq: number; events: Record<string, unknown>[] } {
  const msg = decodeAgentMessage(bytes);
  assert.equal(msg.body, 'batch');
  if (msg.body !== 'batch') throw new Error('not a batch');
  return msg.batch;
}

/** Same values and the same key order (the stored JSON) as protobufjs's reading. */
function assertReadsAsProtobufjs(bytes: Uint8Array): void {
  const mine = decodedBatch(bytes);
  const ref = reference(bytes);
  assert.deepEqual(mine, ref);
  assert.equal(JSON.stringify(mine), JSON.stringify(ref));
}


/** Explicit zero values: on the wire, so present after reading. */
const defaults = {
  timestamp: '', agent: {}, event: { id: '', sequence: 0, truncated: [] }, process: { pid: 0, exit_code: 0, args_truncated: false, parent: {} },
  source: { port: 0 },
};

test('every field of an Event reads as protobufjs reads it, in the same key order', () => {
  const tiny = { '@timestamp': '2026-02-15T12:34:56.789Z', agent: { id: 'a', tenant_id: 't' }, event: { id: 'e3', type: 'ptrace' } } as VigilEvent;
  for (const seq of [0, 1, 300, 2 ** 33, Number.MAX_SAFE_INTEGER]) {
    assertReadsAsProtobufjs(encodeBatch(seq, [toWireEvent(fullEvent), defaults, toWireEvent(tiny), {}]));
  }
  const { events } = decodedBatch(encodeBatch(1, [toWireEvent(fullEvent)]));
  assert.deepEqual(events[0], fullEvent);
  assert.ok(Object.hasOwn(events[0].labels as object, '__proto__'));
});

test('a batch without events, and messages that are not batches, read as before', () => {
  assert.deepEqual(decodedBatch(encodeAgentMessage({ batch: { seq: 5 } })), { seq: 5, events: [] });
  assert.deepEqual(decodedBatch(encodeAgentMessage({ batch: {} })), { seq: 0, events: [] });
  const hb = decodeAgentMessage(encodeAgentMessage({ heartbeat: { version: '1', queue_depth: 3 } }));
  assert.deepEqual(hb, { body: 'heartbeat', heartbeat: { version: '1', queue_depth: 3 } });
  assert.deepEqual(decodeAgentMessage(Buffer.alloc(0)), {});
});

/** Writes one extra field of every wire type (unknown to vigil.proto). */
function unknownFields(w: protobuf.Writer, id: number): protobuf.Writer {
  return w.uint32(id << 3).uint64(2 ** 40).uint32((id << 3) | 1).fixed64(7).uint32((id << 3) | 2).string('?').uint32((id << 3) | 5).fixed32(9);
}

test('unknown fields are skipped and a repeated singular field keeps its last value, as in protobufjs', () => {
  const event = protobuf.Writer.create().uint32(0x0a).string('first');
  unknownFields(event, 99);
  event.uint32((4 << 3) | 2).fork().uint32(8).uint32(1).uint32((9 << 3) | 2).string('a').ldelim(); // process {pid 1, args [a]}
  event.uint32((4 << 3) | 2).fork().uint32(8).uint32(2).ldelim(); // a second process replaces the first
  event.uint32(0x0a).string('second');
  event.uint32((13 << 3) | 2).fork().uint32(0x12).string('no key').ldelim(); // labels entry without a key
  unknownFields(event.uint32((13 << 3) | 2).fork().uint32(0x0a).string('k'), 3).uint32(0x12).string('v').ldelim();
  const batch = protobuf.Writer.create().uint32(8).uint32(4).uint32(0x12).bytes(event.finish());
  unknownFields(batch, 20);
  const bytes = unknownFields(protobuf.Writer.create().uint32(0x0a).bytes(batch.finish()), 30).finish();
  const mine = decodedBatch(bytes);
  assert.deepEqual(mine, reference(bytes));
  assert.deepEqual(mine.events[0], { '@timestamp': 'second', process: { pid: 2 }, labels: { '': 'no key', k: 'v' } });
});

test('huge fields read whole', () => {
  const big = {
    timestamp: 'x', process: { command_line: 'é'.repeat(600_000), args: Array.from({ length: 20_000 }, (_, i) => `arg-${i}`) },
    labels: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'v'.repeat(5000)])),
  };
  const bytes = encodeBatch(1, [big, big]);
  assertReadsAsProtobufjs(bytes);
  const { events } = decodedBatch(bytes);
  assert.equal((events[1].process as { command_line: string }).command_line.length, 600_000);
});

test('every truncation of a batch is refused as malformed', () => {
  const bytes = encodeBatch(77, [toWireEvent(fullEvent), toWireEvent(fullEvent)]);
  for (let n = 1; n < bytes.length; n++) assert.throws(() => decodeAgentMessage(bytes.subarray(0, n)), /^Error: malformed AgentMessage: /, `cut at ${n}`);
});

/** An AgentMessage{batch} around raw EventBatch bytes. */
const inBatch = (batch: Uint8Array) => protobuf.Writer.create().uint32(0x0a).bytes(batch).finish();
const withEvents = (...events: Uint8Array[]) => {
  const w = protobuf.Writer.create();
  for (const e of events) w.uint32(0x12).bytes(e);
  return inBatch(w.finish());
};
const goodEvent = protobuf.Writer.create().uint32(0x0a).string('t').finish();

test('malformed input gets an error naming the event, field and byte', () => {
  const cases: [Uint8Array, RegExp][] = [
    [withEvents(goodEvent, protobuf.Writer.create().uint32((4 << 3) | 2).fork().uint32((1 << 3) | 2).string('x').ldelim().finish()),
      /batch\.events\[1\]\.process\.pid: wire type 2, expected 0 \(at byte \d+\)/],
    [withEvents(goodEvent, goodEvent, Buffer.from([0x22, 0x03, 0x4a, 0x09, 0x61])), /batch\.events\[2\]\.process\.args: length 9 runs past the end of its message/],
    [withEvents(Buffer.from([0x22, 0x0b, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), /batch\.events\[0\]\.process\.pid: varint longer than 10 bytes/],
    [withEvents(Buffer.from([0x22, 0x02, 0x08, 0xff])), /batch\.events\[0\]\.process\.pid: varint runs past the end of its message/],
    [withEvents(Buffer.from([0x97, 0x03, 0x00])), /batch\.events\[0\]\.field 50: wire type 7 \(invalid\)/],
    [withEvents(Buffer.from([0x0f, 0x00])), /batch\.events\[0\]\.@timestamp: wire type 7, expected 2/],
    [withEvents(Buffer.from([0xa3, 0x06, 0xa4, 0x06])), /batch\.events\[0\]\.field 100: wire type 3 \(groups are not read\)/],
    [withEvents(Buffer.from([0x6a, 0x03, 0x0a, 0x05, 0x61])), /batch\.events\[0\]\.labels: length 5 runs past the end of its message/],
    [inBatch(Buffer.from([0x08, 0x80])), /batch\.seq: varint runs past the end/],
    [inBatch(Buffer.from([0x10, 0x01])), /batch\.events: wire type 0, expected 2/],
    [Buffer.from([0x08, 0x01]), /batch: wire type 0, expected 2/],
    [withEvents(Buffer.from([0x01, 0, 0, 0, 0, 0, 0, 0, 0])), /batch\.events\[0\]\.tag: field number 0/],
    [Buffer.from([0x0a, 0xff, 0xff, 0x01]), /batch: length 32767 runs past the end of its message \(at byte 4\)/],
    [Buffer.from([0x0a, 0x80, 0x80, 0x80, 0x80, 0x10]), /batch: length ≥ 2\^32 runs past/],
  ];
  for (const [bytes, error] of cases) assert.throws(() => decodeAgentMessage(bytes), (err: Error) => {
    assert.match(err.message, /^malformed AgentMessage: /);
    assert.match(err.message, error);
    return true;
  });
});

test('random corruptions of a batch: whatever is read is what protobufjs reads', () => {
  // ASCII only and no negative numbers: protobufjs skips a 10-byte varint's last 5 bytes without reading them,
  // so corruptions there (or runs of bytes ≥ 0x80 that become one) read differently by design.
  const ascii = {
    ...fullEvent, process: { ...fullEvent.process, exit_code: 1, file: { ...fullEvent.process!.file, size: 1 } }, user: { id: '0', name: 'root' },
    labels: { a: 'b', '': '' }, dns: { ...fullEvent.dns, answers: [{ name: 'a', type: 'A', ttl: 1, data: 'x' }, {}] },
  };
  const bytes = encodeBatch(12, [toWireEvent(ascii), defaults, toWireEvent(ascii)]);
  let seed = 42;
  const random = (n: number) => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n);
  let read = 0;
  for (let i = 0; i < 3000; i++) {
    const mutant = Buffer.from(bytes);
    for (let k = 1 + random(3); k > 0; k--) mutant[random(mutant.length)] = random(256);
    let mine;
    try {
      mine = decodeAgentMessage(mutant);
    } catch (err) {
      assert.match((err as Error).message, /^malformed AgentMessage: /);
      continue;
    }
    read++;
    if (mine.body === 'batch') assert.deepEqual(mine.batch, reference(mutant), `mutant ${i}`);
  }
  assert.ok(read > 100, `only ${read} of the corruptions could be read`);
});
