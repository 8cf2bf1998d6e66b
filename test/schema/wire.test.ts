import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAgentMessage, encodeBatch, encodeEventsPayload, encodeSchemaEventsPayload, frameBatch, toWireEvent, encodeServerMessage, decodeServerMessage } from '../../src/schema/wire.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { fullEvent as everyWireField } from '../support/events.ts';

const event: VigilEvent = {
  '@timestamp': '2026-02-15T12:34:56.789Z',
  agent: { id: 'a1', hostname: 'h', tenant_id: 't1' },
  event: { id: 'e1', type: 'process_start', category: 'process', sequence: 7 },
  process: { pid: 42, ppid: 1, executable: '/usr/bin/ip', command_line: 'ip addr', args: ['ip', 'addr'], exit_code: 0,
    parent: { pid: 1, executable: '/sbin/init' } },
  destination: { ip: '::1', port: 443 },
};

test('an event batch round-trips through protobuf unchanged (decoded schema-shaped)', () => {
  const bytes = encodeBatch(9, [toWireEvent(event)]);
  const msg = decodeAgentMessage(bytes);
  assert.equal(msg.body, 'batch');
  if (msg.body !== 'batch') return;
  assert.equal(msg.batch.seq, 9);
  assert.deepEqual(msg.batch.events[0], event);
});

test('malformed bytes give a precise error', () => {
  assert.throws(() => decodeAgentMessage(Buffer.from([0x0a, 0xff, 0xff, 0x01])), /malformed AgentMessage/);
});

test('server messages round-trip, including per-event errors', () => {
  const m = { body: 'ack' as const, ack: { seq: 3, accepted: 2, errors: [{ index: 1, error: 'event.type: unknown' }] } };
  assert.deepEqual(decodeServerMessage(encodeServerMessage(m)), m);
});

test('a spooled events payload framed with its sequence number decodes as that batch', () => {
  for (const seq of [1, 127, 128, 300, 2 ** 40]) {
    const msg = decodeAgentMessage(frameBatch(seq, encodeEventsPayload([toWireEvent(event), toWireEvent(event)])));
    assert.equal(msg.body, 'batch');
    if (msg.body !== 'batch') return;
    assert.equal(msg.batch.seq, seq);
    assert.equal(msg.batch.events!.length, 2);
    assert.deepEqual(msg.batch.events[1], event);
  }
});

/** Every field of the Event message set, plus the schema-only fields that are not sent. */
const fullEvent: VigilEvent = { ...everyWireField, winlog: { EventID: 1 } };

test('schema events encode to exactly the bytes of the generic protobuf path, and decode back', () => {
  const events = [event, fullEvent, { '@timestamp': '2026-02-15T12:34:56.789Z', agent: { id: 'a', tenant_id: 't' }, event: { id: 'e3', type: 'ptrace' } } as VigilEvent];
  for (const seq of [1, 300, 2 ** 33]) {
    const generic = encodeBatch(seq, events.map(toWireEvent));
    assert.deepEqual(frameBatch(seq, encodeSchemaEventsPayload(events)), generic);
    assert.deepEqual(frameBatch(seq, encodeEventsPayload(events.map(toWireEvent))), generic);
  }
  const msg = decodeAgentMessage(frameBatch(5, encodeSchemaEventsPayload([fullEvent])));
  assert.equal(msg.body, 'batch');
  if (msg.body !== 'batch') return;
  const { winlog: _winlog, ...sent } = fullEvent;
  assert.deepEqual(msg.batch.events[0], sent);
});

test('frozen agent and host messages are encoded once and reused, to the same bytes; a new frozen object gets its own', () => {
  const host = Object.freeze({ id: 'h1', hostname: 'web-1', os: Object.freeze({ platform: 'linux', kernel: '6.18' }) });
  const agent = Object.freeze({ id: 'a1', hostname: 'web-1', tenant_id: 't1', version: '0.1.0' });
  const events = [1, 2, 3].map((n) => ({ ...event, event: { ...event.event, id: `e${n}` }, agent, host }) as VigilEvent);
  const generic = encodeBatch(4, events.map((e) => toWireEvent({ ...e, agent: { ...e.agent }, host: structuredClone(e.host) })));
  assert.deepEqual(frameBatch(4, encodeSchemaEventsPayload(events)), generic);
  assert.deepEqual(frameBatch(4, encodeSchemaEventsPayload(events)), generic, 'the second encoding, from the reused bytes');
  const moved = Object.freeze({ ...host, hostname: 'web-2' });
  const msg = decodeAgentMessage(frameBatch(1, encodeSchemaEventsPayload([{ ...events[0], host: moved }])));
  assert.equal(msg.body === 'batch' && (msg.batch.events[0] as { host: { hostname: string } }).host.hostname, 'web-2');
});

test('long and non-ASCII values (lengths of 1, 2 and 3 varint bytes, nested and top-level) encode to the generic bytes', () => {
  const long = (n: number, unit: string) => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
  const events = [127, 128, 16_383, 16_384, 70_000].flatMap((n) => [long(n, 'a'), long(n, 'é𝄞x')]).map((text, i) => ({
    '@timestamp': '2026-02-15T12:34:56.789Z',
    agent: { id: 'a1', tenant_id: 't1' },
    event: { id: `e${i}`, type: 'process_start', category: 'process', sequence: i },
    process: { pid: i, command_line: text, args: [text, '', 'ü'], parent: { pid: 1, command_line: text } },
    labels: { [text]: text },
  }) as VigilEvent);
  const generic = encodeBatch(2 ** 20, events.map(toWireEvent));
  assert.deepEqual(frameBatch(2 ** 20, encodeSchemaEventsPayload(events)), generic);
  const msg = decodeAgentMessage(generic);
  assert.equal(msg.body === 'batch' && msg.batch.events.length, events.length);
});
