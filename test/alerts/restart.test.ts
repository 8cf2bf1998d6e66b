// Kill the delivering process mid-delivery and start another: nothing is lost (every alert reaches the receiver),
// and the only repeats are deliveries that were in flight when the process died (at most one lease batch, each
// with the same x-vigil-delivery id as its first attempt, so the receiver can drop it). Real processes (SIGKILL),
// the real SQLite outbox, a real HTTP receiver on 127.0.0.1 that answers slowly.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { AlertDispatcher } from '../../src/alerts/dispatcher.ts';
import { alertDoc, sinkOf, tempSinks, until, type TempSinks } from './support.ts';

const WORKER = fileURLToPath(new URL('./fixtures/outbox-worker.ts', import.meta.url));
const ALERTS = 300;
const PER_SINK = 16; // the dispatcher's default batch per sink: what one process may have in flight

const receipts: { alert: string; delivery: string }[] = [];
let receiver: Server;
let url = '';
let t: TempSinks;

before(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => setTimeout(() => {
      receipts.push({ alert: JSON.parse(Buffer.concat(chunks).toString()).alert.id, delivery: String(req.headers['x-vigil-delivery']) });
      res.writeHead(204).end();
    }, 15));
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  t = await tempSinks('vigil-restart-');
});

after(async () => {
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
  await t.dispose();
});

async function startWorker(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [WORKER, t.dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('ready')) resolve(); });
    child.once('exit', (code) => reject(new Error(`worker exited ${code}`)));
  });
  return child;
}

test('SIGKILL mid-delivery, restart: nothing lost, repeats only of what was in flight, with its delivery id', { timeout: 90_000 }, async () => {
  await t.store.create(sinkOf({ type: 'webhook', url }));
  // This process only queues (its dispatcher is never started), as the API does before acknowledging an alert.
  const queuer = new AlertDispatcher({ sinks: t.store, outbox: t.store, log: pino({ level: 'silent' }) }, { repeatWindowMs: 0 });
  for (let i = 1; i <= ALERTS; i++) await queuer.enqueue(alertDoc(i));
  const first = await startWorker();
  await until('some delivered', () => receipts.length >= 60, 30_000);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  const atKill = receipts.length;
  assert.ok(atKill < ALERTS, 'killed mid-delivery');
  const second = await startWorker();
  try {
    await until('every alert delivered', async () => (await t.store.health((await t.store.forTenant('t1'))[0].id)).queued === 0 && new Set(receipts.map((r) => r.alert)).size === ALERTS, 60_000);
  } finally {
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
  }
  await queuer.close();
  const byAlert = new Map<string, string[]>();
  for (const r of receipts) byAlert.set(r.alert, [...(byAlert.get(r.alert) ?? []), r.delivery]);
  assert.equal(byAlert.size, ALERTS, 'nothing lost');
  const repeated = [...byAlert.values()].filter((ids) => ids.length > 1);
  assert.ok(repeated.length <= PER_SINK, `repeats only of deliveries in flight at the kill: ${repeated.length}`);
  for (const ids of repeated) assert.equal(new Set(ids).size, 1, 'a repeat carries the delivery id of its first attempt');
  const delivered = (await t.store.forSink('t1', (await t.store.forTenant('t1'))[0].id, 'delivered', 500)).length;
  assert.equal(delivered, ALERTS, 'every outbox row settled delivered');
  console.log(JSON.stringify({ alerts: ALERTS, receivedBeforeKill: atKill, repeatedAfterRestart: repeated.length }));
});
