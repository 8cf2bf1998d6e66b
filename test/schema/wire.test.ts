import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAgentMessage, encodeBatch, encodeEventsPayload, frameBatch, fromWireEvent, toWireEvent, encodeServerMessage, decodeServerMessage } from '../../src/schema/wire.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

const event: VigilEvent = {
  '@timestamp': '2026-02-15T12:34:56.789Z',
  agent: { id: 'a1', hostname: 'h', tenant_id: 't1' },
  event: { id: 'e1', type: 'process_start', category: 'process', sequence: 7 },
  process: { pid: 42, ppid: 1, executable: '/usr/bin/ip', command_line: 'ip addr', args: ['ip', 'addr'], exit_code: 0,
    parent: { pid: 1, executable: '/sbin/init' } },
  destination: { ip: '::1', port: 443 },
};

test('an event batch round-trips through protobuf unchanged', () => {
  const bytes = encodeBatch(9, [toWireEvent(event)]);
  const msg = decodeAgentMessage(bytes);
  assert.equal(msg.body, 'batch');
  if (msg.body !== 'batch') return;
  assert.equal(msg.batch.seq, 9);
  assert.deepEqual(fromWireEvent(msg.batch.events![0]), event);
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
    assert.deepEqual(fromWireEvent(msg.batch.events![1]), event);
  }
});
