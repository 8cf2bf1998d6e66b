// When an alert's webhook deliveries are final, against a real HTTP receiver on 127.0.0.1: `deliver` resolves
// once a delivery that needed retries got through, resolves when one failed for good (a 4xx), and rejects with
// DeliveryStoppedError when closing cuts a delivery short, which makes the scale-out API role nak the alert for
// another process instead of acknowledging it undelivered.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { AlertDelivery, DeliveryStoppedError } from '../../src/alerts/delivery.ts';
import { SqliteAlertSinkStore } from '../../src/alerts/sink-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'vigil-sink-delivery-'));
const answers: number[] = []; // statuses the receiver answers in turn; then 500 for ever
let hits = 0;
let receiver: Server;
let store: SqliteAlertSinkStore;

before(async () => {
  receiver = createServer((req, res) => { hits++; req.resume(); res.writeHead(answers.shift() ?? 500).end(); });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  store = new SqliteAlertSinkStore(join(dir, 'sinks.db'));
  await store.create({ tenantId: 't1', name: 'hook', url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/`, secret: null, createdBy: 'test', createdAt: 1 });
});

after(() => {
  receiver.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

const delivery = (maxAttempts: number) => new AlertDelivery({ store, log: pino({ level: 'silent' }), allowPrivateTargets: true, maxAttempts, baseDelayMs: 10, maxDelayMs: 20 });

test('deliver resolves when the delivery is final: after retries, or refused', { timeout: 10_000 }, async () => {
  const d = delivery(5);
  try {
    hits = 0;
    answers.push(503, 503, 204);
    await d.deliver('t1', { id: 'a1' });
    assert.equal(hits, 3, 'two retries, then delivered');
    answers.push(404);
    await d.deliver('t1', { id: 'a2' }); // failed for good: final too
    assert.equal(d.size, 0);
    await d.deliver('nobody', { id: 'a3' }); // a tenant without sinks
  } finally {
    await d.close();
  }
});

test('closing cuts a retrying delivery short: deliver rejects, and refuses once closed', { timeout: 10_000 }, async () => {
  const d = delivery(1000);
  hits = 0;
  const pending = d.deliver('t1', { id: 'a4' });
  while (hits < 2) await new Promise((r) => setTimeout(r, 5)); // it is retrying
  await d.close();
  await assert.rejects(pending, DeliveryStoppedError);
  await assert.rejects(d.deliver('t1', { id: 'a5' }), DeliveryStoppedError);
});
