// An embedded server killed (SIGKILL) after storing an alert and before queuing it in the outbox (the detection
// stage writes detection.db, the API then metadata.db: two databases, so no transaction spans them) delivers it
// after its restart, once: the API queues at start the recent alerts the outbox never marked. Real processes, the
// real embedded server on its data directory, a real HTTP receiver on 127.0.0.1.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { alertId } from '../../src/detect/alerts.ts';
import { DEFAULT_TENANT, startEmbeddedServer } from '../../src/server/embedded.ts';
import { openEmbeddedAlertSinks } from '../../src/stores/alert-sinks/open.ts';
import { sinkOf, until } from './support.ts';

const CRASH = fileURLToPath(new URL('./fixtures/crash-before-outbox.ts', import.meta.url));
const RULE = 'crash-window-rule';
const received: string[] = [];
let receiver: Server;
let url = '';
let dir = '';

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => { received.push(JSON.parse(Buffer.concat(chunks).toString()).alert.id); res.writeHead(204).end(); });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  dir = mkdtempSync(join(tmpdir(), 'vigil-catch-up-'));
});

after(async () => {
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function crashAfterStoring(eventId: string): Promise<void> {
  const child = spawn(process.execPath, [CRASH, dir, DEFAULT_TENANT, RULE, eventId], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  const signal = await new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, s) => r(s)));
  assert.equal(signal, 'SIGKILL', 'the process died by SIGKILL');
  assert.match(out, /stored/, 'after storing the alert');
}

const start = () => startEmbeddedServer({
  dataDir: dir, http: '127.0.0.1:0', grpc: '127.0.0.1:0', log: pino({ level: 'silent' }), allowPrivateAlertSinks: true,
  alertDelivery: { pollMs: 50, timeoutMs: 2000, repeatWindowMs: 0 },
});

test('SIGKILL between storing an alert and queuing it: delivered after the restart, once', { timeout: 120_000 }, async () => {
  const sinks = await openEmbeddedAlertSinks(dir);
  const sink = await sinks.create(sinkOf({ tenantId: DEFAULT_TENANT, type: 'webhook', url }));
  await sinks.close();
  await crashAfterStoring('evt-crash-1');
  const lost = alertId(RULE, ['evt-crash-1']);

  let server = await start();
  try {
    await until('the alert stored before the crash delivered', () => received.includes(lost), 30_000);
    const store = await openEmbeddedAlertSinks(dir);
    try {
      // The receiver has it before the dispatcher records the answer: wait for the row to say so.
      const rows = await until('the outbox row to be marked delivered', async () => {
        const r = await store.forAlert(DEFAULT_TENANT, lost);
        return r.some((x) => x.state === 'delivered') ? r : undefined;
      }, 10_000);
      assert.deepEqual(rows.map((r) => [r.sinkId, r.state]), [[sink.id, 'delivered']], 'one outbox row, delivered');
    } finally {
      await store.close();
    }
  } finally {
    await server.stop();
  }
  server = await start(); // a second restart finds it marked: nothing is queued again
  try {
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    await server.stop();
  }
  assert.deepEqual(received, [lost], 'delivered exactly once across two restarts');
});
