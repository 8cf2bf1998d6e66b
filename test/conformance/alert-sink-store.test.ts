// Alert-sink store and outbox conformance: the same cases against SQLite (a temporary file) and PostgreSQL (a
// uniquely named database, dropped afterwards), both through src/stores/alert-sinks/sql-alert-sinks.ts on the shared
// SQL layer. Sinks: create and list in creation order, the secret sealed at rest (not in the database's text) and
// only returned by `forTenant`/`get`, tenant scoping of reads, changes and deletes, another handle sees the same
// sinks; an earlier version's plain secret column is sealed on open. Outbox: queued once per sink and alert,
// repeats of a rule on a host suppressed within the window, leases (two handles claiming together never get the
// same row; an expired lease is claimed again; a lost lease cannot settle), backoff and dead letters, replay,
// breaker probe won by one handle, health counts. Marks (an alert handed to the outbox, with or without rows) and
// pruning (settled rows past their retention deleted in batches, pending ones kept; on PostgreSQL one process at a
// time: busy while another holds the pruning lock). The token bucket: two handles claiming take from one bucket.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secretBox } from '../../src/alerts/secret-box.ts';
import type { EnqueueItem } from '../../src/alerts/sink.ts';
import { PRUNE_LOCK, SqlAlertSinkStore } from '../../src/stores/alert-sinks/sql-alert-sinks.ts';
import { openPostgresDb } from '../../src/stores/sql/postgres-db.ts';
import type { SqlDb } from '../../src/stores/sql/sql-db.ts';
import { openSqliteDb } from '../../src/stores/sql/sqlite-db.ts';
import { createTempDatabase } from '../support/postgres.ts';
import { sinkOf } from '../alerts/support.ts';

const box = secretBox(Buffer.alloc(32, 7));
/** A rate no case here reaches (the bucket has its own case). */
const RATE = 60_000;

interface StoreUnderTest {
  name: string;
  setup(): Promise<{ db(): SqlDb; dump(): Promise<string>; dispose(): Promise<void> }>;
}

const implementations: StoreUnderTest[] = [
  {
    name: 'SQLite',
    async setup() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-sinks-'));
      const path = join(dir, 'metadata.db');
      return { db: () => openSqliteDb(path), dump: async () => [path, `${path}-wal`].filter((p) => existsSync(p)).map((p) => readFileSync(p, 'latin1')).join(''), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async setup() {
      const t = await createTempDatabase('sinks');
      return {
        db: () => openPostgresDb(t.config, { max: 4 }),
        async dump() {
          const db = openPostgresDb(t.config, { max: 1 });
          try {
            return JSON.stringify(await db.all('SELECT * FROM alert_sinks'));
          } finally {
            await db.close();
          }
        },
        dispose: () => t.drop(),
      };
    },
  },
];

const item = (sink: { id: string; tenantId: string }, alertId: string, hostId = 'h1', ruleId = 'r1'): EnqueueItem => ({ sink, alertId, ruleId, hostId, payload: `{"id":"${alertId}"}` });

for (const impl of implementations) {
  describe(`alert-sink store conformance: ${impl.name}`, () => {
    test('sinks: create, list in order, sealed secrets, tenant scoping, change, delete, another handle, legacy secrets sealed', async () => {
      const env = await impl.setup();
      const legacy = env.db();
      // An earlier version's table with a plain secret: upgraded in place, the secret sealed.
      await legacy.exec(`CREATE TABLE alert_sinks (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL, secret TEXT,
        created_by TEXT NOT NULL, created_at BIGINT NOT NULL)`);
      await legacy.run('INSERT INTO alert_sinks VALUES (?, ?, ?, ?, ?, ?, ?)', ['snk-0000000000000001', 't1', 'old', 'https://hooks.example.com/old', 'legacy-secret-0123456789', 'user:u0', 500]);
      await legacy.close();
      const a = await SqlAlertSinkStore.open(env.db(), box);
      try {
        const first = await a.create(sinkOf({ name: 'first', type: 'webhook', url: 'https://hooks.example.com/first', secret: 'a-secret-of-16-chars', createdAt: 1000 }));
        const second = await a.create(sinkOf({ name: 'second', type: 'syslog', url: 'tls://siem.example.com:6514', format: 'cef', filters: { min_severity: 'high', mitre_tactics: ['Execution'] }, createdAt: 2000 }));
        const other = await a.create(sinkOf({ tenantId: 't2', name: 'other', type: 'stdout', url: 'stdout:', createdAt: 1500 }));
        assert.match(first.id, /^snk-[0-9a-f]{16}$/);
        assert.deepEqual((await a.forTenant('t1')).map((s) => [s.name, s.secret, s.type]), [['old', 'legacy-secret-0123456789', 'webhook'], ['first', 'a-secret-of-16-chars', 'webhook'], ['second', null, 'syslog']]);
        const dump = await env.dump();
        assert.ok(!dump.includes('a-secret-of-16-chars') && !dump.includes('legacy-secret-0123456789'), 'no secret in the database in the clear');
        const views = await a.list('t1');
        assert.deepEqual(views.map((v) => [v.name, v.hasSecret, v.health.breaker, v.health.queued]), [['old', true, 'closed', 0], ['first', true, 'closed', 0], ['second', false, 'closed', 0]]);
        assert.ok(views.every((v) => !('secret' in v)), 'no secret in the list');
        assert.deepEqual(views[2].filters, { min_severity: 'high', mitre_tactics: ['Execution'] });
        assert.equal(await a.update('t1', other.id, { name: 'x' }, 3000), undefined, 'another tenant\'s sink is not changed');
        const changed = await a.update('t1', second.id, { enabled: false, template: '{{rule.title}}', secret: 'now-with-a-secret-1' }, 3000);
        assert.deepEqual([changed?.enabled, changed?.template, changed?.updatedAt], [false, '{{rule.title}}', 3000]);
        assert.equal((await a.get('t1', second.id))?.secret, 'now-with-a-secret-1');
        assert.equal(await a.get('t1', other.id), undefined);
        assert.equal((await a.get(null, other.id))?.tenantId, 't2', 'the dispatcher reads any tenant\'s sink');
        assert.equal(await a.delete('t1', other.id), false);
        assert.equal(await a.delete('t1', 'snk-0000000000000001'), true);
        const b = await SqlAlertSinkStore.open(env.db(), box);
        try {
          assert.deepEqual((await b.list('t1')).map((v) => v.id), [first.id, second.id], 'another handle sees the same sinks');
          assert.deepEqual((await b.forTenant('t2')).map((s) => s.id), [other.id]);
        } finally {
          await b.close();
        }
      } finally {
        await a.close();
        await env.dispose();
      }
    });

    test('outbox: once per sink and alert, repeats suppressed, leases, retries, dead letters, replay, probe, health', async () => {
      const env = await impl.setup();
      const a = await SqlAlertSinkStore.open(env.db(), box);
      const b = await SqlAlertSinkStore.open(env.db(), box);
      try {
        const s = await a.create(sinkOf({ type: 'webhook', url: 'https://hooks.example.com/x' }));
        const t = await a.create(sinkOf({ type: 'webhook', url: 'https://hooks.example.com/y' }));
        const now = 1_000_000;
        assert.deepEqual(await a.enqueue([item(s, 'a1'), item(t, 'a1')], now, 60_000), ['queued', 'queued']);
        assert.deepEqual(await b.enqueue([item(s, 'a1')], now + 1, 60_000), ['duplicate'], 'queued once per sink and alert, whoever queues it');
        assert.deepEqual(await a.enqueue([item(s, 'a2')], now + 2, 60_000), ['suppressed'], 'same rule and host within the window');
        assert.deepEqual(await a.enqueue([item(s, 'a3', 'h2'), item(s, 'a4', 'h1', 'r2')], now + 3, 60_000), ['queued', 'queued'], 'another host, another rule');
        assert.deepEqual(await a.enqueue([item(s, 'a5')], now + 70_000, 60_000), ['queued'], 'after the window');
        assert.deepEqual((await a.dueSinks(now + 70_000, 10)).sort(), [s.id, t.id].sort());

        // Two handles claim together: no row twice.
        const [ca, cb] = await Promise.all([a.claim(s.id, 'A', now + 70_000, now + 80_000, 2, RATE), b.claim(s.id, 'B', now + 70_000, now + 80_000, 10, RATE)]);
        const ids = [...ca, ...cb].map((d) => d.alertId);
        assert.equal(ids.length, 4);
        assert.equal(new Set(ids).size, 4, 'no delivery leased twice');
        assert.deepEqual(await a.claim(s.id, 'A', now + 70_001, now + 80_000, 10, RATE), [], 'leased rows are not due');
        const [theirs, mine] = [...cb, ...ca]; // whichever handle took them (B may have taken all four)
        const theirOwner = cb.includes(theirs) ? 'B' : 'A';
        // An expired lease is claimed again; the first holder's settle is then refused.
        const again = await a.claim(s.id, 'C', now + 80_001, now + 90_000, 10, RATE);
        assert.ok(again.some((d) => d.id === theirs.id));
        const closed = () => ({ breaker: 'closed' as const, breakerUntil: null, failures: 0 });
        assert.equal(await b.settle(theirs, theirOwner, { kind: 'delivered', at: now + 80_002 }, closed), false, 'a lost lease cannot settle');
        assert.equal(await a.settle(theirs, 'C', { kind: 'delivered', at: now + 80_003 }, closed), true);
        // A retry: due again at nextAt, with its attempt counted and its error kept.
        assert.equal(await a.settle(mine, 'C', { kind: 'retry', at: now + 80_004, nextAt: now + 85_000, error: 'HTTP 503' }, (h) => ({ ...closed(), failures: h.failures + 1 })), true);
        const health = await a.health(s.id);
        assert.equal(health.lastSuccessAt, now + 80_003);
        // Dead letters and replay.
        const rest = await a.claim(s.id, 'D', now + 100_000, now + 110_000, 10, RATE);
        for (const d of rest) assert.equal(await a.settle(d, 'D', { kind: 'dead', at: now + 100_001, error: 'HTTP 404' }, closed), true);
        const dead = await a.forSink('t1', s.id, 'dead', 10);
        assert.equal(dead.length, rest.length);
        assert.ok(dead.every((d) => d.lastError === 'HTTP 404' && d.attempts >= 1));
        assert.equal((await a.health(s.id)).dead, rest.length);
        assert.equal(await a.replay('t2', s.id, undefined, now + 120_000), 0, 'another tenant cannot replay');
        assert.equal(await a.replay('t1', s.id, [dead[0].id], now + 120_000), 1);
        assert.equal((await a.health(s.id)).queued, 1);
        const replayed = await b.claim(s.id, 'E', now + 120_000, now + 130_000, 10, RATE);
        assert.deepEqual(replayed.map((d) => [d.id, d.attempts]), [[dead[0].id, 0]]);
        // Per alert: every sink's delivery.
        assert.deepEqual((await a.forAlert('t1', 'a1')).map((d) => d.sinkId).sort(), [s.id, t.id].sort());
        assert.deepEqual(await a.forAlert('t2', 'a1'), []);
        // The breaker probe: one handle wins it.
        await a.settle(replayed[0], 'E', { kind: 'retry', at: now + 120_001, nextAt: now + 120_002, error: 'down' }, () => ({ breaker: 'open', breakerUntil: now + 150_000, failures: 5 }));
        assert.deepEqual([(await a.health(s.id)).breaker, (await a.health(s.id)).failures], ['open', 5]);
        assert.equal(await a.takeProbe(s.id, 'open', now + 140_000, now + 160_000), false, 'not before the cool-down');
        const wins = await Promise.all([a.takeProbe(s.id, 'open', now + 150_000, now + 160_000), b.takeProbe(s.id, 'open', now + 150_000, now + 160_000)]);
        assert.deepEqual(wins.filter(Boolean).length, 1, 'one probe');
        assert.equal((await b.health(s.id)).breaker, 'half_open');
        assert.equal(await a.delete('t1', s.id), true);
        assert.deepEqual(await a.forSink('t1', s.id, undefined, 10), [], 'its deliveries go with it');
      } finally {
        await a.close();
        await b.close();
        await env.dispose();
      }
    });

    test('outbox marks and pruning: settled rows past their retention deleted in batches, pending kept, one pruner at a time', async () => {
      const env = await impl.setup();
      const a = await SqlAlertSinkStore.open(env.db(), box);
      const DAY = 86_400_000;
      const now = 100 * DAY;
      try {
        const s = await a.create(sinkOf({ type: 'webhook', url: 'https://hooks.example.com/x' }));
        await a.enqueue([item(s, 'm1')], now, 0, { tenantId: 't1', alertId: 'm1' });
        await a.enqueue([], now, 0, { tenantId: 't1', alertId: 'm2' }); // no sink matched: marked all the same
        assert.deepEqual(await a.unmarked('t1', ['m1', 'm2', 'm3']), ['m3']);
        assert.deepEqual(await a.unmarked('t2', ['m1']), ['m1'], 'marks are per tenant');
        // Old rows (10 days): 5 delivered, 1 suppressed, 2 dead, 1 pending; recent: 1 delivered.
        const old = now - 10 * DAY;
        const settleAll = async (ids: string[], at: number, kind: 'delivered' | 'dead') => {
          for (const id of ids) await a.enqueue([item(s, id, id)], at, 0, { tenantId: 't1', alertId: id });
          const claimed = await a.claim(s.id, 'P', at, at + 1000, 100, RATE);
          for (const d of claimed) await a.settle(d, 'P', kind === 'delivered' ? { kind, at } : { kind, at, error: 'HTTP 404' }, () => ({ breaker: 'closed', breakerUntil: null, failures: 0 }));
        };
        await settleAll(['o1', 'o2', 'o3', 'o4', 'o5'], old, 'delivered');
        await settleAll(['x1', 'x2'], old + 1, 'dead');
        assert.deepEqual(await a.enqueue([item(s, 'o6', 'o1')], old + 2, 60_000), ['suppressed']);
        await settleAll(['m1', 'r1'], now, 'delivered');
        assert.deepEqual(await a.enqueue([item(s, 'p1', 'p1')], old + 3, 0), ['queued'], 'pending, never settled');
        const retention = { settledMs: 7 * DAY, deadMs: 30 * DAY };
        if (impl.name === 'PostgreSQL') {
          const holder = env.db();
          try {
            const seen = await holder.tx(async (t) => {
              await t.get('SELECT pg_advisory_xact_lock(?)', [PRUNE_LOCK]);
              return a.prune(retention, now, 2);
            });
            assert.equal(seen, 'busy', 'another process is pruning');
          } finally {
            await holder.close();
          }
        }
        assert.deepEqual(await a.prune(retention, now, 2), { settled: 6, dead: 0, marks: 7 }, 'delivered and suppressed past 7 days (in batches of 2), their marks; dead letters kept');
        const left = async () => (await a.forSink('t1', s.id, undefined, 100)).map((d) => `${d.alertId}:${d.state}`).sort();
        assert.deepEqual(await left(), ['m1:delivered', 'p1:pending', 'r1:delivered', 'x1:dead', 'x2:dead']);
        assert.deepEqual(await a.prune({ ...retention, deadMs: 5 * DAY }, now, 2), { settled: 0, dead: 2, marks: 0 });
        assert.deepEqual(await left(), ['m1:delivered', 'p1:pending', 'r1:delivered']);
        assert.deepEqual(await a.unmarked('t1', ['m1', 'm2', 'o1']), ['o1'], 'recent marks kept');
      } finally {
        await a.close();
        await env.dispose();
      }
    });

    test('rate: two handles claim from one token bucket per sink (a minute\'s burst, then refilled)', async () => {
      const env = await impl.setup();
      const a = await SqlAlertSinkStore.open(env.db(), box);
      const b = await SqlAlertSinkStore.open(env.db(), box);
      try {
        const s = await a.create(sinkOf({ type: 'webhook', url: 'https://hooks.example.com/x' }));
        const now = 5_000_000;
        for (let i = 0; i < 20; i++) await a.enqueue([item(s, `b${i}`, `h${i}`)], now, 0);
        const first = await Promise.all([a.claim(s.id, 'A', now, now + 60_000, 4, 6), b.claim(s.id, 'B', now, now + 60_000, 4, 6)]);
        assert.equal(first.flat().length, 6, 'six a minute: the burst is six across both handles');
        assert.deepEqual(await a.claim(s.id, 'A', now + 1000, now + 60_000, 4, 6), [], 'nothing until a token is back');
        assert.equal((await b.claim(s.id, 'B', now + 20_000, now + 60_000, 4, 6)).length, 2, 'one every ten seconds');
      } finally {
        await a.close();
        await b.close();
        await env.dispose();
      }
    });
  });
}
