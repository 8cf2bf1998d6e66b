import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAgentMessage, encodeBatch, encodeEventsPayload, encodeSchemaEventsPayload, frameBatch, toWireEvent, encodeServerMessage, decodeServerMessage } from '../../src/schema/wire.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

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
const fullEvent: VigilEvent = {
  '@timestamp': '2026-02-15T12:34:56.789Z',
  agent: { id: 'a1', name: 'n', hostname: 'h', tenant_id: 't1', version: '0.1.0' },
  event: { id: 'e2', type: 'file_rename', category: 'file', action: 'rename', ingested: '2026-02-15T12:34:57.000Z', outcome: 'failure',
    truncated: ['file.path', 'process.executable'], sequence: 2 ** 40 + 3 },
  process: { pid: 0, entity_id: 'x', executable: '/bin/mv', command_line: "mv a 'b c'", name: 'mv', start: '2026-02-15T12:34:56.000Z',
    ppid: 7, tid: 8, args: ['mv', 'a', 'b c'], args_truncated: true, working_directory: '/tmp', exit_code: -1, signal: 9,
    hash: { sha256: 'ab' }, parent: { pid: 7, entity_id: 'y', executable: '/bin/sh', command_line: 'sh', name: 'sh', start: '2026-02-15T12:00:00.000Z' } },
  user: { id: '0', name: 'root', effective: { id: '1000' }, group: { id: '0' } },
  host: { id: 'h1', hostname: 'h', os: { platform: 'linux', kernel: '6.8' } },
  file: { path: '/tmp/a', target_path: '/tmp/b c', mode: '644', owner: '0' },
  source: { ip: '10.0.0.1', port: 0 }, destination: { ip: '::1', port: 443 },
  network: { transport: 'tcp', type: 'ipv6', direction: 'outbound' },
  container: { cgroup_id: '123' },
  threat: { mitre: ['T1059'], gtfobins: ['mv'] },
  labels: { 'event.errno': '13', 'target.pid': '9', 'ü': 'ß' },
  dlp: { rule: 'r', matches: 1 }, winlog: { EventID: 1 },
};

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
  const { dlp: _dlp, winlog: _winlog, ...sent } = fullEvent;
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
