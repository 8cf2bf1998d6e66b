// Issue 18, console gaps, through the API of a real embedded server (real chdb, SQLite, ingest over gRPC):
// GET /events by process entity (a process's timeline), user, file path substring, process image hash and
// address; GET /alerts by user, file and hash; the refusals of bad values; tenant scoping.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Alert } from '../../src/detect/alerts.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { call, drained, startFixture, type Fixture } from './support.ts';

let f: Fixture;
const HASH = 'ab'.repeat(32);
const OTHER_HASH = 'cd'.repeat(32);
const admin = (path: string) => call(f, 'GET', path, { token: f.adminKey });
const ids = async (path: string) => {
  const r = await admin(path);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return (r.body.events ?? r.body.alerts).map((e: { event?: { id: string }; id: string }) => e.event?.id ?? e.id).sort();
};

let target: VigilEvent;
const tagged: Record<string, string> = {};

before(async () => {
  f = await startFixture();
  const agent = f.agents[0];
  const [start, bystander] = agent.syntheticEvents(2);
  target = { ...start, user: { ...start.user, name: 'mallory' }, process: { ...start.process, hash: { sha256: HASH } } };
  const other = { ...bystander, user: { ...bystander.user, name: 'root' }, process: { ...bystander.process, hash: { sha256: OTHER_HASH } } };
  const derived = (type: VigilEvent['event']['type'], more: Partial<VigilEvent>, of = target): VigilEvent =>
    ({ ...of, ...more, '@timestamp': new Date(Date.parse(of['@timestamp']) + 1000).toISOString(), event: { ...of.event, id: randomUUID(), type } });
  const write = derived('file_write', { file: { path: '/srv/www/up_load%/shell.php' } });
  const connect = derived('network_connection', { source: { ip: '10.1.2.3', port: 40000 }, destination: { ip: '198.51.100.7', port: 4444 } });
  const otherWrite = derived('file_write', { file: { path: '/var/log/syslog' } }, other);
  Object.assign(tagged, { start: target.event.id, write: write.event.id, connect: connect.event.id, other: other.event.id, otherWrite: otherWrite.event.id });
  await agent.send([target, other, write, connect, otherWrite]);
  await drained(f);
});
after(async () => f?.stop());

test('GET /events: one process, a user, a file path substring, an image hash, an address', async () => {
  const pe = encodeURIComponent(target.process!.entity_id!);
  assert.deepEqual(await ids(`/events?process_entity_id=${pe}`), [tagged.start, tagged.write, tagged.connect].sort());
  assert.deepEqual(await ids(`/events?process_entity_id=${pe}&type=file_write`), [tagged.write]);
  assert.deepEqual(await ids(`/events?process_entity_id=${pe}&host=${target.agent.id}&from=${encodeURIComponent(target['@timestamp'])}`),
    [tagged.start, tagged.write, tagged.connect].sort());
  assert.deepEqual(await ids('/events?user=mallory'), [tagged.start, tagged.write, tagged.connect].sort());
  assert.deepEqual(await ids(`/events?file=${encodeURIComponent('up_load%/shell')}`), [tagged.write]);
  assert.deepEqual(await ids('/events?file=SHELL'), [], 'case-sensitive');
  assert.deepEqual(await ids('/events?ip=198.51.100.7'), [tagged.connect]);
  assert.deepEqual(await ids('/events?ip=10.1.2.3'), [tagged.connect], 'source addresses too');
  assert.deepEqual(await ids(`/events?hash=${HASH.toUpperCase()}`), [tagged.start, tagged.write, tagged.connect].sort(), 'the hash in any case');
  assert.deepEqual(await ids(`/events?hash=${OTHER_HASH}&type=file_write`), [tagged.otherWrite]);
  const page = await admin(`/events?process_entity_id=${pe}&limit=2`);
  assert.equal(page.body.events.length, 2);
  const rest = await admin(`/events?process_entity_id=${pe}&limit=2&cursor=${page.body.next}`);
  assert.deepEqual([rest.body.events.length, rest.body.next], [1, null]);
  const foreign = await call(f, 'GET', `/events?process_entity_id=${pe}`, { token: f.tokens.foreign });
  assert.deepEqual([foreign.status, foreign.body.events], [200, []], "another tenant does not see the process");
});

test('GET /events refuses bad filter values with a precise 400', async () => {
  for (const [q, what] of [
    [`hash=${'a'.repeat(63)}`, 'hash'], [`hash=${'g'.repeat(64)}`, 'hash'], ['ip=not-an-ip', 'ip'], ['ip=10.0.0.256', 'ip'],
    [`file=${'x'.repeat(1025)}`, 'file'], [`user=${'u'.repeat(257)}`, 'user'], [`process_entity_id=${'p'.repeat(257)}`, 'process_entity_id'],
    ['file=', 'file'],
  ]) {
    const r = await admin(`/events?${q}`);
    assert.equal(r.status, 400, `${q}: ${JSON.stringify(r.body)}`);
    assert.match(JSON.stringify(r.body), new RegExp(what), q);
  }
  // A surrogate's UTF-8 (ED A0 80) is not UTF-8: the query parser never yields a lone surrogate, only text.
  assert.deepEqual((await admin('/events?user=%ED%A0%80')).body.events, []);
});

function alert(id: string, events: Record<string, unknown>[]): Alert {
  return {
    id, tenant_id: 'default', host_id: target.agent.id, process_entity_id: target.process!.entity_id,
    rule: { id: 'rule-x', title: 'X', level: 'high', references: [], type: 'single' }, mitre: [], events,
    event_ids: events.map((e) => (e.event as { id: string }).id), first_seen: target['@timestamp'], last_seen: target['@timestamp'], occurrences: 1,
  };
}

test('GET /alerts: by user, file path substring and process hash; totals; bad values refused', async () => {
  await f.server.detection.alerts.write([
    alert('alert-shell', [target as unknown as Record<string, unknown>, { event: { id: 'w' }, file: { path: '/srv/www/shell.php' }, user: { name: 'mallory' } }]),
    alert('alert-root', [{ event: { id: 'r' }, user: { name: 'root' }, process: { hash: { sha256: OTHER_HASH } }, file: { path: '/etc/passwd' } }]),
    { ...alert('alert-foreign', [{ event: { id: 'x' }, user: { name: 'mallory' } }]), tenant_id: 'other' },
  ]);
  assert.deepEqual(await ids('/alerts?user=mallory'), ['alert-shell']);
  assert.deepEqual(await ids('/alerts?file=shell.php'), ['alert-shell']);
  assert.deepEqual(await ids(`/alerts?hash=${HASH.toUpperCase()}`), ['alert-shell']);
  assert.deepEqual(await ids(`/alerts?hash=${OTHER_HASH}&user=root&file=/etc/`), ['alert-root']);
  assert.equal((await admin('/alerts?user=mallory')).body.total, 1);
  assert.equal((await admin('/alerts?file=/&group_by=rule')).body.total, 2);
  assert.deepEqual(await ids('/alerts?user=nobody'), []);
  for (const q of [`hash=${'z'.repeat(64)}`, `file=${'x'.repeat(1025)}`, 'user=']) assert.equal((await admin(`/alerts?${q}`)).status, 400, q);
  const bulk = await call(f, 'POST', '/alerts/bulk', { token: f.adminKey, body: { filter: { user: 'root' }, action: 'acknowledge' } });
  assert.deepEqual([bulk.status, bulk.body.changed], [200, 1]);
});
