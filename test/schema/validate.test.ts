import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BOUNDS, isTimestamp, truncateUtf8, utf8Length, validateEvent } from '../../src/schema/validate.ts';

function goodEvent(): Record<string, any> {
  return {
    '@timestamp': '2026-02-15T12:34:56.789Z',
    agent: { id: 'host-abc123', name: 'JIMBE', hostname: 'jimbe.prod.local', tenant_id: 't1' },
    event: { type: 'process_start', category: 'process', action: 'exec', id: 'ev-1', ingested: '2026-02-15T12:34:56.790Z' },
    process: {
      pid: 153426,
      ppid: 153425,
      executable: '/usr/bin/ip',
      command_line: 'ip addr show',
      args: ['ip', 'addr', 'show'],
      name: 'ip',
      start: '2026-02-15T12:34:56.789Z',
      hash: { sha256: 'abc123' },
      parent: { pid: 153425, executable: '/usr/bin/xfce4-panel', command_line: 'xfce4-panel --gen' },
    },
    user: { id: '1000', name: 'jim', group: { id: '1000' } },
    host: { hostname: 'jimbe', os: { platform: 'linux' } },
    threat: { mitre: ['T1005', 'T1059'], gtfobins: ['file-read', 'shell'] },
    labels: { env: 'prod' },
  };
}

function errorOf(mutate: (e: Record<string, any>) => void): string {
  const e = goodEvent();
  mutate(e);
  const r = validateEvent(e);
  assert.equal(r.ok, false, 'expected a validation error');
  return r.ok ? '' : r.error;
}

test('the seed 002 §5 example event is valid and untouched', () => {
  const e = goodEvent();
  const r = validateEvent(e);
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.deepEqual(r.truncated, []);
  assert.deepEqual(e, goodEvent());
});

test('errors name the offending path precisely', () => {
  assert.equal(validateEvent(null).ok, false);
  assert.equal(validateEvent([1]).ok, false);
  assert.match(errorOf((e) => delete e['@timestamp']), /^@timestamp: required/);
  assert.match(errorOf((e) => (e['@timestamp'] = 'yesterday')), /^@timestamp: expected an ISO 8601 timestamp/);
  assert.match(errorOf((e) => (e['@timestamp'] = '2026-13-45T99:00:00Z')), /^@timestamp:/);
  assert.match(errorOf((e) => delete e.agent.tenant_id), /^agent\.tenant_id: required/);
  assert.match(errorOf((e) => (e.agent.tenant_id = '')), /^agent\.tenant_id: expected a non-empty string/);
  assert.match(errorOf((e) => (e.event.type = 'process_started')), /^event\.type: expected one of process_start/);
  assert.match(errorOf((e) => (e.process.pid = '12')), /^process\.pid: expected an integer, got string/);
  assert.match(errorOf((e) => (e.process.parent.pid = 1.5)), /^process\.parent\.pid: expected an integer/);
  assert.match(errorOf((e) => (e.process.args[1] = 7)), /^process\.args\[1\]: expected a string, got number/);
  assert.match(errorOf((e) => (e.destination = { port: 70000 })), /^destination\.port: 70000 is out of range/);
  assert.match(errorOf((e) => (e.network = { transport: 'sctp' })), /^network\.transport: expected one of tcp, udp/);
  assert.match(errorOf((e) => (e.process.hash = 'x')), /^process\.hash: expected an object, got string/);
  assert.match(errorOf((e) => (e.process.colour = 'red')), /^process\.colour: unknown field/);
  assert.match(errorOf((e) => (e.extra = 1)), /^extra: unknown field/);
  assert.match(errorOf((e) => (e.labels.n = 5)), /^labels\.n: expected a string/);
  assert.match(errorOf((e) => (e.event.id = 'x'.repeat(BOUNDS.id + 1))), /^event\.id: longer than/);
});

test('over-long strings and arrays are cut to their bound and reported, never dropped', () => {
  const e = goodEvent();
  e.process.command_line = 'a'.repeat(BOUNDS.commandLine + 10);
  e.process.executable = '/' + 'é'.repeat(BOUNDS.path); // 2 bytes each
  e.process.args = Array.from({ length: BOUNDS.args + 5 }, (_, i) => `arg${i}`);
  e.process.parent.name = 'n'.repeat(300);
  e.event.truncated = ['file.path'];
  const r = validateEvent(e);
  assert.ok(r.ok, r.ok ? '' : r.error);
  assert.deepEqual(r.truncated.sort(), ['process.args', 'process.command_line', 'process.executable', 'process.parent.name']);
  assert.equal(r.event.process!.command_line!.length, BOUNDS.commandLine);
  assert.ok(utf8Length(r.event.process!.executable!) <= BOUNDS.path);
  assert.ok(r.event.process!.executable!.endsWith('é'), 'cut on a character boundary');
  assert.equal(r.event.process!.args!.length, BOUNDS.args);
  assert.equal(r.event.process!.args!.at(-1), `arg${BOUNDS.args - 1}`);
  assert.equal(r.event.process!.args_truncated, true);
  assert.equal(r.event.process!.parent!.name!.length, BOUNDS.name);
  assert.deepEqual(r.event.event.truncated!.sort(), ['file.path', ...r.truncated].sort());
});

test('truncateUtf8 never splits a surrogate pair or a multi-byte character', () => {
  assert.equal(truncateUtf8('ab😀c', 5), 'ab');
  assert.equal(truncateUtf8('ab😀c', 6), 'ab😀');
  assert.equal(truncateUtf8('€€', 4), '€');
  assert.equal(utf8Length('a€😀'), 1 + 3 + 4);
});

test('isTimestamp: real calendar dates and clock times only, with or without an offset', () => {
  for (const s of ['2024-02-29T00:00:00Z', '2023-12-31T23:59:59.999999999Z', '2024-06-30T12:00:00+23:59', '2024-01-01T00:00:00-05:00', '2000-02-29T00:00:00Z']) {
    assert.ok(isTimestamp(s), s);
  }
  for (const s of [
    '2023-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2024-02-30T00:00:00Z', '2024-04-31T00:00:00Z', '2024-13-01T00:00:00Z',
    '2024-00-10T00:00:00Z', '2024-01-00T00:00:00Z', '2024-01-01T24:00:00Z', '2024-01-01T23:60:00Z', '2024-01-01T23:59:60Z',
    '2024-01-01T00:00:00+24:00', '2024-01-01T00:00:00+23:60', '2024-01-01 00:00:00Z', '2024-01-01T00:00:00', 'not a time',
  ]) assert.equal(isTimestamp(s), false, s);
});

test('isTimestamp agrees with Date.parse on every day of four years and random clock times and offsets', () => {
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  let checked = 0;
  for (const year of [1999, 2000, 2024, 2100]) {
    for (let month = 0; month <= 13; month++) {
      for (let day = 0; day <= 32; day++) {
        const clock = `${pad(Math.floor(Math.random() * 24))}:${pad(Math.floor(Math.random() * 60))}:${pad(Math.floor(Math.random() * 60))}`;
        const zone = Math.random() < 0.5 ? 'Z' : `${Math.random() < 0.5 ? '+' : '-'}${pad(Math.floor(Math.random() * 24))}:${pad(Math.floor(Math.random() * 60))}`;
        const s = `${year}-${pad(month)}-${pad(day)}T${clock}.${pad(Math.floor(Math.random() * 1000), 3)}${zone}`;
        // Date.parse accepts any day up to 31 in any month; a date that overflows its month is not the same date.
        const parsed = Date.parse(s);
        const sameDate = !Number.isNaN(parsed) && new Date(Date.UTC(year, month - 1, day)).getUTCDate() === day;
        assert.equal(isTimestamp(s), sameDate, s);
        checked++;
      }
    }
  }
  assert.equal(checked, 4 * 14 * 33);
});
