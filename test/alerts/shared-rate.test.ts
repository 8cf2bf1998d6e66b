// A sink's rate limit holds across API processes: two dispatchers, each with its own connection pool to one
// PostgreSQL database (as two API processes have), deliver a backlog to one webhook sink of 60 per minute (a
// minute's burst, then one a second). Together they never exceed the bucket: at every receipt, what arrived
// since the first is at most 60 + the seconds elapsed (+1 for timing); with a bucket per process they sent 120 at
// once. Both take part. Real PostgreSQL (a uniquely named database, dropped after), a real HTTP receiver.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { AlertDispatcher } from '../../src/alerts/dispatcher.ts';
import { secretBox } from '../../src/alerts/secret-box.ts';
import { SqlAlertSinkStore } from '../../src/stores/alert-sinks/sql-alert-sinks.ts';
import { openPostgresDb } from '../../src/stores/sql/postgres-db.ts';
import { createTempDatabase, type TempDatabase } from '../support/postgres.ts';
import { alertDoc, sinkOf, until } from './support.ts';

const RATE = 60;
const ALERTS = 150;
const WATCH_MS = 8000;
const box = secretBox(Buffer.alloc(32, 9));
const receivedAt: number[] = [];
let receiver: Server;
let url = '';
let db: TempDatabase;

before(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => { receivedAt.push(Date.now()); res.writeHead(204).end(); });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  db = await createTempDatabase('shared_rate');
});

after(async () => {
  receiver.closeAllConnections();
  await new Promise((r) => receiver.close(r));
  await db.drop();
});

test('two dispatchers on one PostgreSQL database together keep to the sink\'s rate', { timeout: 60_000 }, async () => {
  const stores = [await SqlAlertSinkStore.open(openPostgresDb(db.config, { max: 4 }), box), await SqlAlertSinkStore.open(openPostgresDb(db.config, { max: 4 }), box)];
  const claimedBy = [0, 0];
  stores.forEach((s, i) => {
    const claim = s.claim.bind(s);
    s.claim = async (...args) => {
      const got = await claim(...args);
      claimedBy[i] += got.length;
      return got;
    };
  });
  await stores[0].create(sinkOf({ type: 'webhook', url, options: { rate_per_minute: RATE } }));
  const log = pino({ level: 'silent' });
  const dispatchers = stores.map((s) => new AlertDispatcher({ sinks: s, outbox: s, log }, { allowPrivateTargets: true, pollMs: 20, timeoutMs: 2000, repeatWindowMs: 0 }));
  try {
    for (let i = 1; i <= ALERTS; i++) await dispatchers[0].enqueue(alertDoc(i));
    for (const d of dispatchers) d.start();
    await until('the burst delivered', () => receivedAt.length >= RATE, 20_000);
    await new Promise((r) => setTimeout(r, WATCH_MS));
  } finally {
    for (const d of dispatchers) await d.close();
    for (const s of stores) await s.close();
  }
  const first = receivedAt[0];
  const worst = Math.max(...receivedAt.map((t, i) => i + 1 - (RATE + (t - first) / 1000)));
  console.log(JSON.stringify({ received: receivedAt.length, elapsed_ms: receivedAt.at(-1)! - first, claimed_by: claimedBy, worst_excess: Number(worst.toFixed(2)) }));
  assert.ok(worst <= 1, `at most ${RATE} + 1 a second since the first across both dispatchers (worst excess ${worst.toFixed(2)})`);
  assert.ok(receivedAt.length < ALERTS, 'the backlog is held back, not sent at once');
  assert.ok(receivedAt.length >= RATE + WATCH_MS / 1000 - 2, `the bucket refills: ${receivedAt.length}`);
  assert.ok(claimedBy.every((n) => n > 0), `both dispatchers delivered: ${claimedBy}`);
});
