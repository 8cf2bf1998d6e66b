// Alert store conformance: the same cases against SQLite (a temporary file) and PostgreSQL (a uniquely
// named database on 127.0.0.1:5432, or VIGIL_TEST_PG_HOST, dropped afterwards): dedupe by alert id (also
// between two handles writing at once, as two workers do), filters (host ids, process, disposition), exact
// totals, groups by rule, host and process with their cursor, keyset cursors, tenant scoping, triage (close with a
// disposition), bulk triage, exceptions (CRUD, applied to new alerts as `excepted`), the migration of the old
// suppressions into exceptions, counts.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTempDatabase } from '../support/postgres.ts';
import { alertId, type Alert } from '../../src/detect/alerts.ts';
import type { Level } from '../../src/sigma/ir.ts';
import { openPostgresDb } from '../../src/stores/sql/postgres-db.ts';
import { openSqliteDb } from '../../src/stores/sql/sqlite-db.ts';
import type { SqlDb } from '../../src/stores/sql/sql-db.ts';
import { PostgresAlertStore } from '../../src/stores/alerts/postgres.ts';
import { MIGRATION_LOCK, MIGRATIONS_TABLE, migrationsOf } from '../../src/stores/alerts/schema.ts';
import { SqliteAlertStore } from '../../src/stores/alerts/sqlite.ts';
import { isDeliverable, type AlertStore } from '../../src/stores/alerts/types.ts';

interface StoreUnderTest {
  name: string;
  /** Opens a store; `second` opens another handle on the same data (another process's view). */
  open(): Promise<{ store: AlertStore; second(): AlertStore; dispose(): Promise<void> }>;
  /**
   * A fresh store at a schema version (1: before exceptions; 3: before alert_fields and hosts in alert_groups)
   * holding what `rows` insert (statements with `?` placeholders), then opened as the current store (not yet migrated).
   */
  openAt(version: number, rows: [string, unknown[]][]): Promise<{ store: AlertStore; dispose(): Promise<void> }>;
}

/** Applies the store's first `version` migrations only, inserts `rows` and closes. */
async function atVersion(db: SqlDb, version: number, rows: [string, unknown[]][]): Promise<void> {
  try {
    await db.migrate({ table: MIGRATIONS_TABLE, lockKey: MIGRATION_LOCK, migrations: migrationsOf(db).slice(0, version) });
    for (const [sql, params] of rows) await db.run(sql, params as (string | null)[]);
  } finally {
    await db.close();
  }
}

const implementations: StoreUnderTest[] = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-alerts-'));
      const path = join(dir, 'detection.db');
      return { store: new SqliteAlertStore(path), second: () => new SqliteAlertStore(path), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
    async openAt(version, rows) {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-alerts-v1-'));
      const path = join(dir, 'detection.db');
      await atVersion(openSqliteDb(path), version, rows);
      return { store: new SqliteAlertStore(path), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
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
    async openAt(version, rows) {
      const db = await createTempDatabase('alertsv1');
      await atVersion(openPostgresDb({ ...db.config, max: 1 }), version, rows);
      return { store: new PostgresAlertStore({ ...db.config, max: 2 }), dispose: () => db.drop() };
    },
  },
];

interface AlertSpec {
  tenant?: string; host?: string; rule?: string; level?: Level; event: string; at: string;
  /** The process the alert is about (entity id) and its executable and command line, in the matching event. */
  process?: string; exe?: string; cmd?: string;
}

function alert(s: AlertSpec): Alert {
  const rule = s.rule ?? 'rule-a';
  const events = s.exe === undefined ? [] : [{ event: { id: s.event, type: 'process_start' }, process: { entity_id: s.process, executable: s.exe, command_line: s.cmd, args: s.cmd?.split(' ') } }];
  return {
    id: alertId(rule, [s.event]), tenant_id: s.tenant ?? 't1', host_id: s.host ?? 'h1',
    ...(s.process === undefined ? {} : { process_entity_id: s.process }),
    rule: { id: rule, title: `Title of ${rule}`, level: s.level ?? 'high', references: [], type: 'single' },
    mitre: [], events, event_ids: [s.event], first_seen: s.at, last_seen: s.at,
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
      assert.deepEqual({ ...got, updated_at: '' }, { ...a, status: 'open', assignee: null, close_reason: null, disposition: null, exception_id: null, comments: [], updated_at: '' });
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

    test('filters by user, file path (substring, any kept event) and process hash; with totals, groups and bulk', async () => {
      const hash = (c: string) => c.repeat(64);
      const withEvents = (spec: AlertSpec, events: Record<string, unknown>[], processUser?: string): Alert => ({
        ...alert(spec), events,
        ...(processUser === undefined ? {} : { process: { entity_id: 'p', pid: 2, ppid: 1, parent_entity_id: '', executable: '/bin/x', command_line: 'x', start: at(0), exit: null, user_name: processUser, user_id: '0' } }),
      });
      await store.write([
        withEvents({ tenant: 'uf', event: 'u1', at: at(1) }, [{ event: { id: 'u1' }, user: { name: 'root' }, file: { path: '/etc/shadow' }, process: { hash: { sha256: hash('a') } } }]),
        withEvents({ tenant: 'uf', event: 'u2', at: at(2) }, [{ event: { id: 'u2' }, user: { name: 'alice' }, file: { path: '/home/alice/.ssh/id_rsa' } },
          { event: { id: 'u2b' }, user: { name: 'alice' }, file: { path: '/tmp/Drop.sh' }, process: { hash: { sha256: hash('b') } } }]),
        withEvents({ tenant: 'uf', event: 'u3', at: at(3) }, [], 'bob'), // a correlation-like alert: the user is its process's
        withEvents({ tenant: 'uf-other', event: 'u4', at: at(4) }, [{ event: { id: 'u4' }, user: { name: 'root' }, file: { path: '/etc/shadow' } }]),
      ]);
      const events = async (q: Partial<Parameters<AlertStore['list']>[0]>) =>
        (await store.list({ tenantId: 'uf', limit: 10, ...q })).alerts.map((a) => a.event_ids[0]);
      assert.deepEqual(await events({ userName: 'root' }), ['u1']);
      assert.deepEqual(await events({ userName: 'alice' }), ['u2']);
      assert.deepEqual(await events({ userName: 'bob' }), ['u3']);
      assert.deepEqual(await events({ userName: 'ro' }), [], 'user is exact');
      assert.deepEqual(await events({ filePath: '/etc/sha' }), ['u1']);
      assert.deepEqual(await events({ filePath: 'Drop.sh' }), ['u2'], 'any kept event, not only the first');
      assert.deepEqual(await events({ filePath: 'drop.sh' }), [], 'case-sensitive');
      assert.deepEqual(await events({ filePath: '%' }), [], 'no LIKE wildcards');
      assert.deepEqual(await events({ sha256: hash('b') }), ['u2']);
      assert.deepEqual(await events({ sha256: hash('c') }), []);
      assert.deepEqual(await events({ userName: 'alice', filePath: '.ssh' }), ['u2'], 'combined with AND');
      assert.deepEqual(await events({ userName: 'alice', sha256: hash('a') }), []);
      assert.equal(await store.count({ tenantId: 'uf', filePath: '/' }), 2);
      assert.equal(await store.count({ tenantId: 'uf', userName: 'root' }), 1, "another tenant's alert is not counted");
      const groups = await store.groups({ tenantId: 'uf', limit: 10, userName: 'alice' }, 'rule');
      assert.deepEqual(groups.groups.map((g) => g.count), [1]);
      const bulk = await store.bulkTriage({ tenantId: 'uf', filePath: '/etc/' }, 'ana', { action: 'acknowledge' });
      assert.deepEqual([bulk.matched, bulk.changed.length], [1, 1]);
      assert.deepEqual(await events({ statuses: ['acknowledged'] }), ['u1']);
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
      const closed = await store.triage('tri', a.id, 'bob', { action: 'close', reason: 'admin testing', disposition: 'benign' });
      assert.deepEqual([closed?.status, closed?.close_reason, closed?.disposition], ['closed', 'admin testing', 'benign']);
      assert.deepEqual((await store.list({ tenantId: 'tri', dispositions: ['benign'], limit: 5 })).alerts.map((x) => x.id), [a.id]);
      assert.equal(await store.count({ tenantId: 'tri', dispositions: ['true_positive'] }), 0);
      assert.equal((await store.triage('tri', a.id, 'bob', { action: 'acknowledge' }))?.status, 'closed', 'acknowledge leaves a closed alert closed');
      assert.equal(await store.triage('tri', 'no-such-id', 'ana', { action: 'acknowledge' }), undefined);
      assert.equal(await store.triage('elsewhere', a.id, 'ana', { action: 'acknowledge' }), undefined);
      assert.deepEqual((await store.list({ tenantId: 'tri', limit: 5 })).alerts[0].comments.map((c) => c.text), ['first', 'second']);
    });

    test('count is exact for every filter; hosts by id list, process filter', async () => {
      await store.write([
        alert({ tenant: 'n', event: 'n1', at: at(1), host: 'hA', process: 'pA', exe: '/bin/a', cmd: 'a -x' }),
        alert({ tenant: 'n', event: 'n2', at: at(2), host: 'hB', process: 'pB', exe: '/bin/b' }),
        alert({ tenant: 'n', event: 'n3', at: at(3), host: 'hB', level: 'low' }),
        alert({ tenant: 'n2', event: 'n4', at: at(4), host: 'hA' }),
      ]);
      assert.equal(await store.count({ tenantId: 'n' }), 3);
      assert.equal(await store.count({ tenantId: 'n', hostIds: ['hA', 'hB'] }), 3);
      assert.equal(await store.count({ tenantId: 'n', hostIds: ['hB'], severities: ['high'] }), 1);
      assert.equal(await store.count({ tenantId: 'n', hostIds: [] }), 0, 'an empty host list matches nothing');
      assert.equal(await store.count({ tenantId: 'n', processEntityId: 'pA' }), 1);
      assert.deepEqual((await store.list({ tenantId: 'n', processEntityId: 'pB', limit: 10 })).alerts.map((a) => a.event_ids[0]), ['n2']);
      assert.equal(await store.count({ tenantId: 'n', statuses: ['excepted'] }), 0);
    });

    test('groups by rule, host and process: counts, occurrences, max severity, statuses, labels; their own cursor', async () => {
      const t = 'g';
      const [a1] = await store.write([alert({ tenant: t, event: 'g1', at: at(1), rule: 'r1', host: 'hA', process: 'p1', exe: '/bin/one', cmd: 'one --a', level: 'low' })]);
      await store.write([
        alert({ tenant: t, event: 'g2', at: at(2), rule: 'r1', host: 'hA', process: 'p1', exe: '/bin/one', cmd: 'one --b', level: 'critical' }),
        alert({ tenant: t, event: 'g3', at: at(3), rule: 'r2', host: 'hB', process: 'p2', exe: '/bin/two', level: 'medium' }),
        alert({ tenant: t, event: 'g4', at: at(4), rule: 'r3', host: 'hB' }),
      ]);
      // a repeat of g1 counts one more occurrence in its group
      await store.write([{ ...alert({ tenant: t, event: 'g1b', at: at(1), rule: 'r1', host: 'hA', process: 'p1' }), id: a1.id }]);
      await store.triage(t, a1.id, 'ana', { action: 'acknowledge' });
      const byRule = await store.groups({ tenantId: t, limit: 10 }, 'rule');
      assert.equal(byRule.total_groups, 3);
      assert.deepEqual(byRule.groups.map((g) => [g.key, g.label, g.count, g.occurrences, g.max_severity, g.last_seen]), [
        ['r3', 'Title of r3', 1, 1, 'high', at(4)], ['r2', 'Title of r2', 1, 1, 'medium', at(3)], ['r1', 'Title of r1', 2, 3, 'critical', at(2)],
      ]);
      assert.deepEqual(byRule.groups[2].statuses, { open: 1, acknowledged: 1, closed: 0, excepted: 0 });
      assert.equal(byRule.groups[2].first_seen, at(1));
      const byProcess = await store.groups({ tenantId: t, limit: 10 }, 'process');
      assert.deepEqual(byProcess.groups.map((g) => [g.key, g.label, g.host_id, g.count]), [
        ['', null, undefined, 1], ['p2', '/bin/two', 'hB', 1], ['p1', 'one --b', 'hA', 2],
      ]);
      const byHost = await store.groups({ tenantId: t, severities: ['high', 'critical'], limit: 10 }, 'host');
      assert.deepEqual(byHost.groups.map((g) => [g.key, g.count]), [['hB', 1], ['hA', 1]]);
      // paging: one group a page, in the same order, without repeats
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.groups({ tenantId: t, limit: 1, cursor }, 'rule');
        seen.push(...page.groups.map((g) => g.key));
        cursor = page.next ?? undefined;
      } while (cursor);
      assert.deepEqual(seen, ['r3', 'r2', 'r1']);
      const first = await store.groups({ tenantId: t, limit: 1 }, 'rule');
      await assert.rejects(store.groups({ tenantId: t, limit: 1, cursor: first.next! }, 'host'), /invalid cursor/, "a rule cursor is not a host cursor");
      assert.deepEqual((await store.groups({ tenantId: 'nobody', limit: 10 }, 'rule')), { groups: [], next: null, total_groups: 0 });
    });

    test('groups and totals kept in alert_groups answer as the alerts themselves: after repeats, triage and bulk triage, every page', async () => {
      const levels: Level[] = ['low', 'medium', 'high', 'critical'];
      const spec = (i: number): AlertSpec => ({ tenant: 'sum', host: `h${i % 3}`, rule: `r${i % 5}`, level: levels[i % 4], event: `s${i}`, at: at(i % 40),
        process: i % 7 === 0 ? undefined : `p${i % 11}`, exe: '/bin/x', cmd: `x ${i}` });
      await store.write(Array.from({ length: 60 }, (_, i) => alert(spec(i))));
      await store.write([alert({ tenant: 'sum-other', host: 'h0', rule: 'r0', event: 'o1', at: at(50) })]);
      const first = alert(spec(3));
      await store.write([{ ...first, event_ids: ['s3b'], first_seen: at(1), last_seen: at(55) }]); // a repeat widens its groups
      await store.triage('sum', alert(spec(4)).id, 'ana', { action: 'close', reason: 'done', disposition: 'benign' });
      await store.triage('sum', alert(spec(5)).id, 'ana', { action: 'acknowledge' });
      await store.bulkTriage({ tenantId: 'sum', hostIds: ['h1'], severities: ['high'] }, 'ana', { action: 'close', reason: 'bulk', disposition: 'false_positive' });
      await store.bulkTriage({ tenantId: 'sum', ruleId: 'r2' }, 'ana', { action: 'acknowledge' });
      // `from` at the epoch selects every alert but is answered from the alerts rows, not the summary.
      const direct = { from: new Date(0) };
      for (const f of [{}, { statuses: ['open' as const] }, { severities: ['high', 'low'] }, { statuses: ['closed' as const, 'acknowledged' as const], severities: ['high'] },
        { hostIds: ['h1'] }, { hostId: 'h2', statuses: ['open' as const] }, { hostIds: ['h0', 'h2'], severities: ['high', 'critical'] }, { hostIds: [] }]) {
        assert.equal(await store.count({ tenantId: 'sum', ...f }), await store.count({ tenantId: 'sum', ...f, ...direct }), JSON.stringify(f));
        for (const by of ['rule', 'host', 'process'] as const) {
          const pages = async (extra: object) => {
            const out: unknown[] = [];
            let cursor: string | undefined;
            do {
              const page = await store.groups({ tenantId: 'sum', ...f, ...extra, limit: 2, cursor }, by);
              out.push(page.total_groups, ...page.groups);
              cursor = page.next ?? undefined;
            } while (cursor);
            return out;
          };
          assert.deepEqual(await pages({}), await pages(direct), `${by} ${JSON.stringify(f)}`);
        }
      }
    });

    test('bulk triage: acts on the filtered selection it would change, bounded, says how many changed and remain', async () => {
      const t = 'bulk';
      await store.write(Array.from({ length: 12 }, (_, i) => alert({ tenant: t, event: `b${i}`, at: at(i), host: i < 8 ? 'hA' : 'hB' })));
      await store.write([alert({ tenant: 'bulk-other', event: 'bx', at: at(1), host: 'hA' })]);
      const ack = await store.bulkTriage({ tenantId: t, hostIds: ['hA'] }, 'ana', { action: 'acknowledge' }, 5);
      assert.deepEqual([ack.matched, ack.changed.length, ack.remaining], [8, 5, 3]);
      const again = await store.bulkTriage({ tenantId: t, hostIds: ['hA'] }, 'ana', { action: 'acknowledge' }, 5);
      assert.deepEqual([again.matched, again.changed.length, again.remaining], [8, 3, 0], 'the next call takes the rest');
      assert.equal(await store.count({ tenantId: t, statuses: ['acknowledged'] }), 8);
      assert.equal((await store.list({ tenantId: 'bulk-other', limit: 1 })).alerts[0].status, 'open', "another tenant's alert is untouched");
      const ids = (await store.list({ tenantId: t, hostIds: ['hB'], limit: 10 })).alerts.map((a) => a.id);
      const close = await store.bulkTriage({ tenantId: t, ids: ids.slice(0, 2) }, 'ana', { action: 'close', disposition: 'false_positive', reason: 'lab host' });
      assert.deepEqual([close.matched, [...close.changed].sort(), close.remaining], [2, ids.slice(0, 2).sort(), 0]);
      const closed = await store.get(t, ids[0]);
      assert.deepEqual([closed?.status, closed?.disposition, closed?.close_reason], ['closed', 'false_positive', 'lab host']);
      assert.equal((await store.bulkTriage({ tenantId: t, ids: ids.slice(0, 2) }, 'ana', { action: 'close', disposition: 'false_positive', reason: 'lab host' })).changed.length, 0,
        'closing again the same way changes nothing');
      const assign = await store.bulkTriage({ tenantId: t, statuses: ['acknowledged', 'open'] }, 'ana', { action: 'assign', assignee: 'bob' });
      assert.deepEqual([assign.matched, assign.changed.length], [10, 10]);
      assert.equal((await store.bulkTriage({ tenantId: t }, 'ana', { action: 'assign', assignee: 'bob' })).changed.length, 2, 'only the two closed ones were not bob\'s');
      assert.equal((await store.bulkTriage({ tenantId: t, ids: [] }, 'ana', { action: 'acknowledge' })).matched, 0);
    });

    test('exceptions: create, get, list with cursor and total, update, delete; tenant-scoped', async () => {
      const t = 'ex';
      const made = [];
      for (let i = 0; i < 3; i++) {
        made.push(await store.createException(t, 'user:ana', {
          rule_id: i < 2 ? 'r1' : 'r2', conditions: [{ field: 'process.executable', op: 'equals', value: `/bin/x${i}` }],
          scope: i === 0 ? { host_ids: ['hA'] } : {}, reason: `reason ${i}`, expires_at: i === 2 ? new Date(Date.now() - 1000).toISOString() : null,
        }));
      }
      const e0 = made[0];
      assert.match(e0.id, /^exc_/);
      assert.deepEqual(await store.getException(t, e0.id), e0);
      assert.equal(await store.getException('elsewhere', e0.id), undefined);
      const all = await store.listExceptions({ tenantId: t, limit: 10 });
      assert.equal(all.total, 3);
      assert.deepEqual(new Set(all.exceptions.map((e) => e.id)), new Set(made.map((e) => e.id)));
      assert.deepEqual((await store.listExceptions({ tenantId: t, ruleId: 'r1', limit: 10 })).total, 2);
      assert.deepEqual((await store.listExceptions({ tenantId: t, active: false, limit: 10 })).exceptions.map((e) => e.id), [made[2].id]);
      assert.equal((await store.listExceptions({ tenantId: t, active: true, limit: 10 })).total, 2);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listExceptions({ tenantId: t, limit: 2, cursor });
        assert.equal(page.total, 3);
        seen.push(...page.exceptions.map((e) => e.id));
        cursor = page.next ?? undefined;
      } while (cursor);
      assert.deepEqual(seen, all.exceptions.map((e) => e.id));
      const updated = await store.updateException(t, e0.id, 'user:bob', { reason: 'changed', expires_at: '2299-01-01T00:00:00.000Z' });
      assert.deepEqual([updated?.reason, updated?.expires_at, updated?.updated_by, updated?.created_by, updated?.conditions], ['changed', '2299-01-01T00:00:00.000Z', 'user:bob', 'user:ana', e0.conditions]);
      assert.deepEqual(await store.getException(t, e0.id), updated);
      assert.equal(await store.updateException('elsewhere', e0.id, 'x', { reason: 'no' }), undefined);
      assert.equal(await store.deleteException('elsewhere', e0.id), undefined);
      assert.deepEqual(await store.deleteException(t, e0.id), updated);
      assert.equal(await store.getException(t, e0.id), undefined);
    });

    test('a new alert an active exception matches is stored excepted, names it, and is not deliverable', async () => {
      const t = 'exm';
      const backup = await store.createException(t, 'user:ana', {
        rule_id: 'r1', conditions: [{ field: 'process.executable', op: 'equals', value: '/usr/bin/backup' }, { field: 'process.command_line', op: 'contains', value: '--nightly' }],
        scope: { host_ids: ['hA'] }, reason: 'nightly backup', expires_at: null,
      });
      const anywhere = await store.createException(t, 'user:ana', {
        rule_id: 'r2', conditions: [{ field: 'process.args', op: 'startswith', value: '--tmp' }], scope: {}, reason: 'tmp runs', expires_at: null,
      });
      await store.createException(t, 'user:ana', { rule_id: 'r1', conditions: [], scope: {}, reason: 'expired', expires_at: new Date(Date.now() - 1000).toISOString() });
      const written = await store.write([
        alert({ tenant: t, event: 'm1', at: at(1), rule: 'r1', host: 'hA', exe: '/usr/bin/backup', cmd: 'backup --nightly /srv' }),
        alert({ tenant: t, event: 'm2', at: at(2), rule: 'r1', host: 'hB', exe: '/usr/bin/backup', cmd: 'backup --nightly /srv' }),
        alert({ tenant: t, event: 'm3', at: at(3), rule: 'r1', host: 'hA', exe: '/usr/bin/backup', cmd: 'backup --weekly' }),
        alert({ tenant: t, event: 'm4', at: at(4), rule: 'r2', host: 'hC', exe: '/bin/job', cmd: 'job --tmpdir /x' }),
        alert({ tenant: t, event: 'm5', at: at(5), rule: 'r3', host: 'hA', exe: '/usr/bin/backup', cmd: 'backup --nightly' }),
        alert({ tenant: 'exm-other', event: 'm6', at: at(6), rule: 'r1', host: 'hA', exe: '/usr/bin/backup', cmd: 'backup --nightly' }),
      ]);
      assert.deepEqual(written.map((a) => [a.event_ids[0], a.status, a.exception_id]), [
        ['m1', 'excepted', backup.id], ['m2', 'open', null], ['m3', 'open', null], ['m4', 'excepted', anywhere.id], ['m5', 'open', null], ['m6', 'open', null],
      ], 'host scope, every condition, list fields, rule, expiry and tenant all count');
      assert.deepEqual(written.filter(isDeliverable).map((a) => a.event_ids[0]), ['m2', 'm3', 'm5', 'm6']);
      const stored = await store.get(t, written[0].id);
      assert.deepEqual([stored?.status, stored?.exception_id], ['excepted', backup.id]);
      assert.deepEqual((await store.list({ tenantId: t, statuses: ['excepted'], limit: 10 })).alerts.map((a) => a.event_ids[0]), ['m4', 'm1']);
      // a repeat of an excepted alert stays excepted and is not new
      assert.deepEqual(await store.write([{ ...written[0], event_ids: ['m1b'], events: written[0].events }]), []);
      assert.equal((await store.get(t, written[0].id))?.occurrences, 2);
      // deleting the exception applies to later alerts only
      await store.deleteException(t, backup.id);
      const later = await store.write([alert({ tenant: t, event: 'm7', at: at(7), rule: 'r1', host: 'hA', exe: '/usr/bin/backup', cmd: 'backup --nightly' })]);
      assert.equal(later[0].status, 'open');
      assert.equal((await store.get(t, written[0].id))?.status, 'excepted');
    });

    test('migration: each old suppression becomes an exception of its rule on its host; suppressed alerts become excepted', async () => {
      const until = new Date(Date.now() + 3_600_000).toISOString();
      const past = new Date(Date.now() - 3_600_000).toISOString();
      const doc = (id: string, host: string) => JSON.stringify({ ...alert({ tenant: 'mig', event: id, at: at(1), host }), id });
      const insertAlert = `INSERT INTO alerts (tenant_id, id, host_id, rule_id, level, status, suppressed_until, first_seen, last_seen, doc, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
      const insertSuppression = `INSERT INTO alert_suppressions (tenant_id, rule_id, host_id, until, reason, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`;
      const v1 = await impl.openAt(1, [
        [insertAlert, ['mig', 'old1', 'hA', 'rule-a', 'high', 'suppressed', until, at(1), at(1), doc('old1', 'hA'), at(1)]],
        [insertAlert, ['mig', 'old2', 'hB', 'rule-a', 'high', 'open', null, at(2), at(2), doc('old2', 'hB'), at(2)]],
        [insertSuppression, ['mig', 'rule-a', 'hA', until, 'noisy backup', 'user:ana', at(1)]],
        [insertSuppression, ['mig', 'rule-b', 'hA', past, 'old one', 'user:bob', at(0)]],
      ]);
      try {
        await v1.store.migrate();
        const { exceptions } = await v1.store.listExceptions({ tenantId: 'mig', limit: 10 });
        assert.deepEqual(exceptions.map((e) => [e.rule_id, e.conditions, e.scope, e.reason, e.expires_at, e.created_by]), [
          ['rule-a', [], { host_ids: ['hA'] }, 'noisy backup', until, 'user:ana'], ['rule-b', [], { host_ids: ['hA'] }, 'old one', past, 'user:bob'],
        ]);
        const old1 = await v1.store.get('mig', 'old1');
        assert.deepEqual([old1?.status, old1?.exception_id], ['excepted', exceptions[0].id]);
        assert.equal((await v1.store.get('mig', 'old2'))?.status, 'open');
        const fresh = await v1.store.write([
          alert({ tenant: 'mig', event: 'new1', at: at(3), host: 'hA' }), alert({ tenant: 'mig', event: 'new2', at: at(3), host: 'hB' }),
          alert({ tenant: 'mig', event: 'new3', at: at(3), host: 'hA', rule: 'rule-b' }),
        ]);
        assert.deepEqual(fresh.map((a) => a.status), ['excepted', 'open', 'open'], 'the migrated exception applies as the suppression did; the expired one not');
        assert.equal(await v1.store.count({ tenantId: 'mig', statuses: ['excepted'] }), 2);
      } finally {
        await v1.store.close();
        await v1.dispose();
      }
    });

    test('migration 4: alerts stored before it are found by user, file and hash, and grouped by host from the summary', async () => {
      const hash = (c: string) => c.padStart(64, '0');
      const docOf = (id: string, host: string, rule: string, user: string, path: string) => JSON.stringify({
        ...alert({ tenant: 'm4', event: id, at: at(1), host, rule }), id, mitre: [{ id: 'T1059', name: 'x', tactics: [] }],
        events: [{ event: { id }, user: { name: user }, file: { path }, process: { hash: { sha256: hash(id) } } }] });
      const insertAlert = `INSERT INTO alerts (tenant_id, id, host_id, rule_id, level, status, first_seen, last_seen, doc, updated_at, process_entity_id, occurrences)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
      const rows: [string, unknown[]][] = []; // alert_groups is rebuilt from the alerts by migration 4
      for (const [id, host, rule, user, path] of [['o1', 'hA', 'r1', 'root', '/etc/cron.d/x'], ['o2', 'hB', 'r1', 'alice', '/tmp/x'], ['o3', 'hA', 'r2', 'alice', '/tmp/y']]) {
        rows.push([insertAlert, ['m4', id, host, rule, 'high', 'open', at(1), at(1), docOf(id, host, rule, user, path), at(1), '', 1]]);
      }
      const v3 = await impl.openAt(3, rows);
      try {
        await v3.store.migrate();
        const ids = async (f: Partial<Parameters<AlertStore['list']>[0]>) => (await v3.store.list({ tenantId: 'm4', limit: 10, ...f })).alerts.map((a) => a.id).sort();
        assert.deepEqual(await ids({ userName: 'alice' }), ['o2', 'o3']);
        assert.deepEqual(await ids({ filePath: 'cron.d' }), ['o1']);
        assert.deepEqual(await ids({ sha256: hash('o3') }), ['o3']);
        const byRule = await v3.store.groups({ tenantId: 'm4', hostIds: ['hA'], limit: 10 }, 'rule');
        assert.deepEqual(byRule.groups.map((g) => [g.key, g.count]).sort(), [['r1', 1], ['r2', 1]]);
        assert.equal(await v3.store.count({ tenantId: 'm4', hostIds: ['hB'] }), 1);
        assert.deepEqual(await v3.store.techniqueCounts('m4', []), { alerts: 3, techniques: [{ id: 'T1059', alerts: 3 }] });
      } finally {
        await v3.store.close();
        await v3.dispose();
      }
    });

    test('counts: by severity since a time, top rules, top hosts by risk of open and acknowledged alerts', async () => {
      const written = await store.write([
        alert({ tenant: 'c', event: 'c1', at: at(1), level: 'low', host: 'hA', rule: 'r1' }),
        alert({ tenant: 'c', event: 'c2', at: at(2), level: 'high', host: 'hB', rule: 'r1' }),
        alert({ tenant: 'c', event: 'c3', at: at(3), level: 'critical', host: 'hB', rule: 'r2' }),
        alert({ tenant: 'c', event: 'c4', at: at(4), level: 'medium', host: 'hA', rule: 'r3' }),
      ]);
      await store.triage('c', written[3].id, 'ana', { action: 'close', reason: 'fp', disposition: 'false_positive' });
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

    test('technique counts: alerts per MITRE technique over every alert of the statuses asked, tenant-scoped', async () => {
      const withMitre = (s: AlertSpec, ids: string[]): Alert => ({ ...alert({ tenant: 'mt', ...s }), mitre: ids.map((id) => ({ id, name: id, tactics: ['execution'] })) });
      const written = await store.write([
        withMitre({ event: 'm1', at: at(1) }, ['T1059', 'T1105']),
        withMitre({ event: 'm2', at: at(2) }, ['T1059']),
        withMitre({ event: 'm3', at: at(3) }, ['T1059', 'T1059']), // a technique twice in one alert counts once
        withMitre({ event: 'm4', at: at(4) }, []),
        withMitre({ event: 'm5', at: at(5) }, ['T1105']),
        { ...withMitre({ event: 'm6', at: at(6) }, ['T1059']), tenant_id: 'mt-other' },
      ]);
      await store.triage('mt', written[4].id, 'ana', { action: 'close', reason: 'done', disposition: 'benign' });
      await store.triage('mt', written[1].id, 'ana', { action: 'acknowledge' });
      assert.deepEqual(await store.techniqueCounts('mt', ['open', 'acknowledged']),
        { alerts: 4, techniques: [{ id: 'T1059', alerts: 3 }, { id: 'T1105', alerts: 1 }] });
      assert.deepEqual(await store.techniqueCounts('mt', ['open']), { alerts: 3, techniques: [{ id: 'T1059', alerts: 2 }, { id: 'T1105', alerts: 1 }] });
      assert.deepEqual(await store.techniqueCounts('mt', []), { alerts: 5, techniques: [{ id: 'T1059', alerts: 3 }, { id: 'T1105', alerts: 2 }] });
      assert.deepEqual(await store.techniqueCounts('nobody', ['open']), { alerts: 0, techniques: [] });
    });
  });
}
