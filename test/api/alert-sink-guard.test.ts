// The SSRF guard of alert sinks: the address classification (IPv4, IPv6, IPv4-mapped, metadata); a real server
// refusing sink URLs (webhook, syslog, SMTP) whose host is or resolves to an internal address (a 400 naming why)
// while accepting a public one; and delivery refusing stored sinks whose target is internal (as after a DNS
// change) for IP literals and names alike, webhook, syslog and SMTP, unless private targets are allowed, against
// real receivers on 127.0.0.1.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from 'node:net';
import { pino } from 'pino';
import { AlertDispatcher } from '../../src/alerts/dispatcher.ts';
import { refusalOf } from '../../src/alerts/target-guard.ts';
import { registry } from '../../src/server/metrics.ts';
import { alertDoc, sinkOf, tempSinks, until } from '../alerts/support.ts';
import { call, startFixture, type Fixture } from './support.ts';

let f: Fixture;
let receiver: Server;
let tcp: TcpServer;
let port: number;
let tcpPort: number;
let received = 0;
let tcpConnections = 0;

before(async () => {
  receiver = createServer((req, res) => { received++; req.resume(); res.writeHead(204).end(); });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  port = (receiver.address() as AddressInfo).port;
  tcp = createTcpServer((s) => { tcpConnections++; s.resume(); });
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  tcpPort = (tcp.address() as AddressInfo).port;
  f = await startFixture();
});

after(async () => {
  await f.stop();
  receiver.close();
  tcp.close();
});

test('addresses are classified: internal ones refused with their reason, public ones allowed', () => {
  const cases: [string, string | undefined][] = [
    ['127.0.0.1', 'loopback'], ['127.9.9.9', 'loopback'], ['::1', 'loopback'], ['0.0.0.0', 'unspecified'], ['::', 'unspecified'],
    ['10.1.2.3', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'],
    ['169.254.169.254', 'cloud metadata'], ['100.100.100.200', 'cloud metadata'], ['fd00:ec2::254', 'cloud metadata'],
    ['169.254.1.1', 'link-local'], ['fe80::1', 'link-local'], ['fc00::1', 'unique local (private)'], ['fd12:3456::1', 'unique local (private)'],
    ['100.64.0.1', 'shared (carrier-grade NAT)'], ['224.0.0.1', 'multicast'], ['ff02::1', 'multicast'], ['255.255.255.255', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:a9fe:a9fe', 'cloud metadata'], ['::ffff:c0a8:101', 'private'],
    ['8.8.8.8', undefined], ['172.32.0.1', undefined], ['203.0.113.10', undefined], ['2001:db8::1', undefined], ['::ffff:808:808', undefined],
  ];
  for (const [address, why] of cases) assert.equal(refusalOf(address), why, address);
});

test('creating a sink with an internal target is a 400 naming why; a public target is accepted', async () => {
  const refused: [string, RegExp][] = [
    ['http://127.0.0.1:9/hook', /127\.0\.0\.1 is a loopback address/], ['http://localhost:9/hook', /localhost resolves to .* loopback/],
    ['http://[::1]:9/', /loopback/], ['http://10.0.0.5/', /private/], ['https://192.168.1.1/', /private/], ['http://172.20.0.1/', /private/],
    ['http://169.254.169.254/latest/meta-data/', /cloud metadata/], ['http://[fd00::1]/', /unique local/], ['http://[fe80::1]/', /link-local/],
    ['http://[::ffff:127.0.0.1]/', /loopback/], ['http://0.0.0.0:8440/', /unspecified/], ['http://2130706433/', /loopback/],
    ['syslog tcp://10.0.0.5:514', /10\.0\.0\.5 is a private address/], ['syslog udp://localhost:514', /loopback/], ['syslog tls://[::1]:6514', /loopback/],
    ['email smtp://192.168.0.25:587', /private/], ['email smtps://localhost:465', /loopback/],
  ];
  for (const [target, why] of refused) {
    const [type, url] = target.includes(' ') ? target.split(' ') : ['webhook', target];
    const extra = type === 'email' ? { options: { from: 'vigil@example.com', to: ['soc@example.com'] } } : {};
    const r = await call(f, 'POST', '/alert-sinks', { token: f.tokens.admin, body: { name: 'internal', type, url, ...extra } });
    assert.equal(r.status, 400, `${url}: ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, 'forbidden_target', url);
    assert.match(r.body.detail, why, url);
    assert.match(r.body.detail, /allowPrivateAlertSinks/);
  }
  const unresolvable = await call(f, 'POST', '/alert-sinks', { token: f.tokens.admin, body: { name: 'nx', url: 'https://no-such-host.invalid/hook' } });
  assert.equal(unresolvable.status, 400);
  assert.match(unresolvable.body.detail, /does not resolve/);
  const list = await call(f, 'GET', '/alert-sinks', { token: f.tokens.admin });
  assert.deepEqual(list.body.alert_sinks, []);
  const ok = await call(f, 'POST', '/alert-sinks', { token: f.tokens.admin, body: { name: 'public', url: 'https://203.0.113.10/hook' } });
  assert.equal(ok.status, 201);
  assert.equal((await call(f, 'DELETE', `/alert-sinks/${ok.body.id}`, { token: f.tokens.admin })).status, 204);
});

async function refusedCount(): Promise<number> {
  return Number(/^vigil_alert_sink_targets_refused_total (\d+)/m.exec(await registry.metrics())?.[1] ?? 0);
}

/**
 * Delivers one alert to sinks stored for 127.0.0.1 and localhost (webhook), a syslog TCP peer and an SMTP host on
 * loopback; resolves once each delivery is final (delivered, or dead: a refusal is not retried).
 */
async function deliverToLoopback(allowPrivateTargets: boolean): Promise<string[]> {
  const t = await tempSinks('vigil-sink-guard-');
  for (const host of ['127.0.0.1', 'localhost']) await t.store.create(sinkOf({ name: host, type: 'webhook', url: `http://${host}:${port}/hook` }));
  await t.store.create(sinkOf({ type: 'syslog', url: `tcp://localhost:${tcpPort}`, format: 'cef' }));
  await t.store.create(sinkOf({ type: 'email', url: 'smtp://127.0.0.1:9', options: { from: 'vigil@example.com', to: ['soc@example.com'] } }));
  const delivery = new AlertDispatcher({ sinks: t.store, outbox: t.store, log: pino({ level: 'silent' }) }, { allowPrivateTargets, maxAttempts: 1, timeoutMs: 2000, pollMs: 10 });
  try {
    delivery.start();
    await delivery.enqueue(alertDoc(1));
    return await until('every delivery final', async () => {
      const d = await t.store.forAlert('t1', 'alert-1');
      return d.length === 4 && d.every((x) => x.state !== 'pending') && d.map((x) => `${x.state}:${x.lastError ?? ''}`).sort();
    });
  } finally {
    await delivery.close();
    await t.dispose();
  }
}

test('delivery refuses internal targets (literal and resolved; webhook, syslog, SMTP) unless private targets are allowed', async () => {
  const before = await refusedCount();
  received = 0;
  tcpConnections = 0;
  const refused = await deliverToLoopback(false);
  assert.equal(received, 0, 'nothing reached the loopback receiver');
  assert.equal(tcpConnections, 0, 'nothing reached the syslog peer');
  assert.ok(refused.every((r) => r.startsWith('dead:') && /private targets need the server option/.test(r)), refused.join('\n'));
  assert.equal(await refusedCount(), before + 4);

  const allowed = await deliverToLoopback(true);
  assert.equal(received, 2, 'both reach it when private targets are allowed');
  assert.equal(tcpConnections, 1, 'the syslog peer is reached');
  assert.deepEqual(allowed.filter((r) => r.startsWith('delivered')).length, 3, allowed.join('\n'));
  assert.match(allowed.find((r) => r.startsWith('dead'))!, /ECONNREFUSED/, 'the SMTP port is closed: tried, not refused');
  assert.equal(await refusedCount(), before + 4);
});
