// Alert store conformance: the same cases against SQLite (a temporary file) and PostgreSQL (a uniquely
// named database on 127.0.0.1:5432, or VIGIL_TEST_PG_HOST, dropped afterwards): dedupe by alert id (also
// between two handles writing at once, as two workers do), filters, keyset cursors, tenant scoping,
// triage, suppression of later alerts, counts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTempDatabase } from '../support/postgres.ts';
import { alertId, type Alert } from '../../src/detect/alerts.ts';
import type { Level } from '../../src/sigma/ir.ts';
import { PostgresAlertStore } from '../../src/stores/alerts/postgres.ts';
import { SqliteAlertStore } from '../../src/stores/alerts/sqlite.ts';
import type { AlertStore } from '../../src/stores/alerts/types.ts';

interface StoreUnderTest {
  name: string;
  /** Opens a store; `second` opens another handle on the same data (another process's view). */
  open(): Promise<{ store: AlertStore; second(): AlertStore; dispose(): Promise<void> }>;
}

const implementations: StoreUnderTest[] = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-alerts-'));
      const path = join(dir, 'detection.db');
      return { store: new SqliteAlertStore(path), second: () => new SqliteAlertStore(path), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      const db = await createTempDatabase('alerts');
      const config = { ...db.config, max: 4 };
      return {
        store: new PostgresAlertStore(config), second: () => new PostgresAlertStore(config),
        dispose: () => db.drop(),
      };
    },
  },
];

interface AlertSpec { tenant?: string; host?: string; rule?: string; level?: Level; event: string; at: string }

function alert(s: AlertSpec): Alert {
  const rule = s.rule ?? 'rule-a';
  return {
    id: alertId(rule, [s.event]), tenant_id: s.tenant ?? 't1', host_id: s.host ?? 'h1',
    rule: { id: rule, title: `Title of ${rule}`, level: s.level ?? 'high', references: [], type: 'single' },
    mitre: [], events: [], event_ids: [s.event], first_seen: s.at, last_seen: s.at,
  };
}

const at = (second: number) => new Date(Date.UTC(2026, 10, 23, 12, 0, second)).toISOString();

for (const impl of implementations) {
  describe(`alert store conformance: ${impl.name}`, () => {
    let store: AlertStore;
    let second: () => AlertStore;
    let dispose: () => Promise<void>;

    before(async () => {
      ({ store, second, dispose } = await impl.open());
      await store.migrate();
      await store.migrate(); // idempotent
    });
    after(async () => {
      await store.close();
      await dispose();
    });

    test('write stores new alerts once and returns only the new ones, open', async () => {
      const a = alert({ tenant: 'w', event: 'e1', at: at(1) });
      const [stored] = await store.write([a]);
      assert.equal(stored.id, a.id);
      assert.equal(stored.status, 'open');
      assert.deepEqual(stored.comments, []);
      assert.deepEqual(await store.write([a, alert({ tenant: 'w', event: 'e2', at: at(2) })]).then((r) => r.map((x) => x.event_ids[0])), ['e2']);
      const got = await store.get('w', a.id);
      assert.deepEqual({ ...got, updated_at: '' }, { ...a, status: 'open', assignee: null, close_reason: null, suppressed_until: null, comments: [], updated_at: '' });
    });

    test('two handles writing the same alerts at once: each stored once, reported new once', async () => {
      const other = second();
      try {
        const batch = Array.from({ length: 20 }, (_, i) => alert({ tenant: 'race', event: `r${i}`, at: at(i) }));
        const [x, y] = await Promise.all([store.write(batch), other.write(batch)]);
        assert.equal(x.length + y.length, 20);
        assert.equal(new Set([...x, ...y].map((a) => a.id)).size, 20);
        assert.equal((await other.list({ tenantId: 'race', limit: 100 })).alerts.length, 20);
      } finally {
        await other.close();
      }
    });

    test('a repeat (same id, new event) is merged: one alert, occurrences counted, span widened, re-deliveries ignored', async () => {
      const first = { ...alert({ tenant: 'rep', event: 'p1', at: at(5) }), id: 'same-process-alert', occurrences: 1 };
      const repeat = (event: string, second: number) => ({ ...first, event_ids: [event], first_seen: at(second), last_seen: at(second) });
      assert.equal((await store.write([first])).length, 1);
      assert.deepEqual(await store.write([repeat('p2', 9), repeat('p3', 2)]), [], 'repeats are not new alerts');
      assert.deepEqual(await store.write([repeat('p2', 9)]), [], 'a re-delivered repeat');
      const got = (await store.get('rep', first.id))!;
      assert.equal(got.occurrences, 3);
      assert.deepEqual(got.event_ids, ['p1', 'p2', 'p3']);
      assert.equal(got.first_seen, at(2));
      assert.equal(got.last_seen, at(9));
      assert.deepEqual((await store.list({ tenantId: 'rep', limit: 10 })).alerts.map((a) => a.id), [first.id]);
    });

    test('list: newest first, filters, tenant scope', async () => {
      await store.write([
        alert({ tenant: 'f', event: 'f1', at: at(10), level: 'low', host: 'h1', rule: 'r1' }),
        alert({ tenant: 'f', event: 'f2', at: at(20), level: 'high', host: 'h2', rule: 'r1' }),
        alert({ tenant: 'f', event: 'f3', at: at(30), level: 'critical', host: 'h2', rule: 'r2' }),
        alert({ tenant: 'other', event: 'f4', at: at(40) }),
      ]);
      const events = async (q: Partial<Parameters<AlertStore['list']>[0]>) =>
        (await store.list({ tenantId: 'f', limit: 10, ...q })).alerts.map((a) => a.event_ids[0]);
      assert.deepEqual(await events({}), ['f3', 'f2', 'f1']);
      assert.deepEqual(await events({ severities: ['low', 'critical'] }), ['f3', 'f1']);
      assert.deepEqual(await events({ hostId: 'h2' }), ['f2', 'f3'].reverse());
      assert.deepEqual(await events({ ruleId: 'r1' }), ['f2', 'f1']);
      assert.deepEqual(await events({ from: new Date(at(20)), to: new Date(at(30)) }), ['f2']);
      assert.deepEqual(await events({ statuses: ['closed'] }), []);
      const foreign = (await store.list({ tenantId: 'other', limit: 10 })).alerts[0];
      assert.equal(await store.get('f', foreign.id), undefined, "another tenant's alert is not found");
    });

    test('keyset cursor pages through ties on last_seen without skipping or repeating', async () => {
      await store.write(Array.from({ length: 7 }, (_, i) => alert({ tenant: 'page', event: `p${i}`, at: at(i < 4 ? 5 : 6) })));
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const r = await store.list({ tenantId: 'page', limit: 3, cursor });
        seen.push(...r.alerts.map((a) => a.id));
        cursor = r.next ?? undefined;
        pages++;
      } while (cursor);
      assert.equal(pages, 3);
      assert.equal(new Set(seen).size, 7);
      assert.deepEqual(seen, (await store.list({ tenantId: 'page', limit: 10 })).alerts.map((a) => a.id));
      await assert.rejects(store.list({ tenantId: 'page', limit: 3, cursor: 'not-a-cursor' }), /invalid cursor/);
    });

    test('triage: acknowledge, assign, comment, close; unknown or foreign alert → undefined', async () => {
      const [a] = await store.write([alert({ tenant: 'tri', event: 't1', at: at(1) })]);
      assert.equal((await store.triage('tri', a.id, 'ana', { action: 'acknowledge' }))?.status, 'acknowledged');
      assert.equal((await store.triage('tri', a.id, 'ana', { action: 'assign', assignee: 'bob' }))?.assignee, 'bob');
      await store.triage('tri', a.id, 'ana', { action: 'comment', text: 'first' });
      const commented = await store.triage('tri', a.id, 'bob', { action: 'comment', text: 'second' });
      assert.deepEqual(commented?.comments.map((c) => [c.author, c.text]), [['ana', 'first'], ['bob', 'second']]);
      const closed = await store.triage('tri', a.id, 'bob', { action: 'close', reason: 'benign' });
      assert.deepEqual([closed?.status, closed?.close_reason], ['closed', 'benign']);
      assert.equal((await store.triage('tri', a.id, 'bob', { action: 'acknowledge' }))?.status, 'closed', 'acknowledge leaves a closed alert closed');
      assert.equal(await store.triage('tri', 'no-such-id', 'ana', { action: 'acknowledge' }), undefined);
      assert.equal(await store.triage('elsewhere', a.id, 'ana', { action: 'acknowledge' }), undefined);
      assert.deepEqual((await store.list({ tenantId: 'tri', limit: 5 })).alerts[0].comments.map((c) => c.text), ['first', 'second']);
    });

    test('suppress: later alerts of the same rule on the same host arrive suppressed until the expiry', async () => {
      const [a] = await store.write([alert({ tenant: 'sup', event: 's1', at: at(1) })]);
      const until = new Date(Date.now() + 3_600_000);
      const s = await store.triage('sup', a.id, 'ana', { action: 'suppress', reason: 'noisy', until });
      assert.deepEqual([s?.status, s?.suppressed_until], ['suppressed', until.toISOString()]);
      const later = await store.write([
        alert({ tenant: 'sup', event: 's2', at: at(2) }), alert({ tenant: 'sup', event: 's3', at: at(3), host: 'h9' }),
        alert({ tenant: 'sup', event: 's4', at: at(4), rule: 'rule-b' }),
      ]);
      assert.deepEqual(later.map((x) => [x.event_ids[0], x.status]), [['s2', 'suppressed'], ['s3', 'open'], ['s4', 'open']]);
      assert.equal(later[0].suppressed_until, until.toISOString());
      const [expired] = await store.write([alert({ tenant: 'sup2', event: 'x1', at: at(1) })]);
      await store.triage('sup2', expired.id, 'ana', { action: 'suppress', reason: 'old', until: new Date(Date.now() - 1000) });
      assert.equal((await store.write([alert({ tenant: 'sup2', event: 'x2', at: at(2) })]))[0].status, 'open', 'an expired suppression no longer applies');
    });

    test('counts: by severity since a time, top rules, top hosts by risk of open and acknowledged alerts', async () => {
      const written = await store.write([
        alert({ tenant: 'c', event: 'c1', at: at(1), level: 'low', host: 'hA', rule: 'r1' }),
        alert({ tenant: 'c', event: 'c2', at: at(2), level: 'high', host: 'hB', rule: 'r1' }),
        alert({ tenant: 'c', event: 'c3', at: at(3), level: 'critical', host: 'hB', rule: 'r2' }),
        alert({ tenant: 'c', event: 'c4', at: at(4), level: 'medium', host: 'hA', rule: 'r3' }),
      ]);
      await store.triage('c', written[3].id, 'ana', { action: 'close', reason: 'fp' });
      const c = await store.counts('c', new Date(at(2)));
      assert.deepEqual(c.bySeverity, { high: 1, critical: 1, medium: 1 });
      assert.deepEqual(c.topRules, [{ id: 'r1', title: 'Title of r1', count: 1 }, { id: 'r2', title: 'Title of r2', count: 1 }, { id: 'r3', title: 'Title of r3', count: 1 }]);
      assert.deepEqual(c.topHosts, [{ id: 'hB', alerts: 2, risk: 17 }, { id: 'hA', alerts: 1, risk: 1 }]);
    });

    test('level buckets: alerts by level per time bucket since a time, bucket starts in UTC', async () => {
      const minute = (m: number, s = 0) => new Date(Date.UTC(2026, 10, 23, 13, m, s)).toISOString();
      await store.write([
        alert({ tenant: 'lb', event: 'l0', at: minute(0, 30), level: 'high' }),
        alert({ tenant: 'lb', event: 'l1', at: minute(1, 5), level: 'high' }),
        alert({ tenant: 'lb', event: 'l2', at: minute(1, 59), level: 'high' }),
        alert({ tenant: 'lb', event: 'l3', at: minute(1, 10), level: 'low' }),
        alert({ tenant: 'lb', event: 'l4', at: minute(3), level: 'critical' }),
      ]);
      assert.deepEqual(await store.levelBuckets('lb', new Date(minute(1)), 60), [
        { t: minute(1), level: 'high', count: 2 }, { t: minute(1), level: 'low', count: 1 }, { t: minute(3), level: 'critical', count: 1 },
      ]);
      assert.deepEqual(await store.levelBuckets('lb', new Date(minute(0)), 3600), [
        { t: '2026-11-23T13:00:00.000Z', level: 'critical', count: 1 }, { t: '2026-11-23T13:00:00.000Z', level: 'high', count: 3 },
        { t: '2026-11-23T13:00:00.000Z', level: 'low', count: 1 },
      ]);
    });
  });
}
