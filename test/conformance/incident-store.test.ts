// Incident store conformance: the same cases against SQLite (a temporary detection.db) and PostgreSQL (a uniquely
// named database, dropped afterwards): grouping by lineage on one host (and not through sshd, nor across hosts,
// nor beyond the window, nor into a closed incident), repeats, correlations, one incident when two handles group
// one lineage at once (two workers), filters, cursors, totals and tenant scoping, and analysts' changes with their
// audit hook (a hook that throws leaves the incident unchanged), moves of alerts, links to response actions.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTempDatabase } from '../support/postgres.ts';
import { alertFacts, type AlertFacts } from '../../src/incidents/grouping.ts';
import type { Alert } from '../../src/detect/alerts.ts';
import type { ProcessSummary } from '../../src/tree/live-index.ts';
import { SqliteIncidentStore } from '../../src/stores/incidents/sqlite.ts';
import { PostgresIncidentStore } from '../../src/stores/incidents/postgres.ts';
import { SqliteAlertStore } from '../../src/stores/alerts/sqlite.ts';
import { IncidentError, type Changes, type IncidentStore } from '../../src/stores/incidents/types.ts';

interface StoreUnderTest {
  name: string;
  open(): Promise<{ store: IncidentStore; second(): IncidentStore; dispose(): Promise<void> }>;
}

const implementations: StoreUnderTest[] = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'vigil-incidents-'));
      const path = join(dir, 'detection.db');
      return { store: new SqliteIncidentStore(path), second: () => new SqliteIncidentStore(path), dispose: async () => rmSync(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    async open() {
      const db = await createTempDatabase('incidents');
      const config = { ...db.config, max: 4 };
      return { store: new PostgresIncidentStore(config), second: () => new PostgresIncidentStore(config), dispose: () => db.drop() };
    },
  },
];

const T0 = Date.UTC(2026, 11, 1, 10, 0, 0);
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

function proc(entity: string, pid: number, executable: string): ProcessSummary {
  return { entity_id: entity, pid, ppid: 0, parent_entity_id: '', executable, command_line: executable, start: at(0), exit: null, user_name: 'u', user_id: '1000' };
}
const init = proc('init', 1, '/sbin/init');
const sshd = proc('sshd', 800, '/usr/sbin/sshd');

interface Spec { id: string; tenant?: string; host?: string; level?: Alert['rule']['level']; chain?: string[]; minute?: number; correlation?: boolean; events?: string[] }

/** An alert about the last process of `chain` (entity ids under init and sshd, each a bash). */
function facts(s: Spec): AlertFacts {
  const chain = (s.chain ?? []).map((e, i) => proc(e, 1000 + i, '/bin/bash'));
  const a: Alert = {
    id: s.id, tenant_id: s.tenant ?? 't1', host_id: s.host ?? 'h1', process_entity_id: chain.at(-1)?.entity_id,
    rule: { id: `rule-${s.id}`, title: `Rule ${s.id}`, level: s.level ?? 'medium', references: [], type: s.correlation ? 'temporal' : 'single' },
    mitre: [], events: [{ host: { hostname: `${s.host ?? 'h1'}.example` } } as never], event_ids: s.events ?? [`ev-${s.id}`],
    first_seen: at(s.minute ?? 0), last_seen: at(s.minute ?? 0), process: chain.at(-1), ancestors: [init, sshd, ...chain.slice(0, -1)],
  };
  return alertFacts(a);
}

const noAudit = async () => {};

for (const impl of implementations) {
  describe(`incident store conformance: ${impl.name}`, () => {
    const disposals: (() => Promise<void>)[] = [];
    after(async () => { for (const d of disposals.reverse()) await d(); });
    async function fresh(): Promise<{ store: IncidentStore; second(): IncidentStore }> {
      const o = await impl.open();
      await o.store.migrate();
      disposals.push(async () => { await o.store.close(); await o.dispose(); });
      return o;
    }

    test('one lineage on one host is one incident; another lineage, another host, a link through sshd only are others', async () => {
      const { store } = await fresh();
      const r = await store.assign([
        facts({ id: 'a1', chain: ['shell', 'curl'], minute: 0, level: 'low' }),
        facts({ id: 'a2', chain: ['shell', 'sub', 'nc'], minute: 1, level: 'high' }),
        facts({ id: 'a3', chain: ['shell', 'sub'], minute: 2 }),
        facts({ id: 'b1', chain: ['other-shell', 'x'], minute: 3 }),
        facts({ id: 'c1', host: 'h2', chain: ['shell', 'curl'], minute: 3 }),
      ]);
      const by = Object.fromEntries(r.map((x) => [x.alert_id, x]));
      assert.equal(by.a1.outcome, 'created');
      assert.equal(by.a2.incident_id, by.a1.incident_id);
      assert.equal(by.a3.incident_id, by.a1.incident_id);
      assert.equal(by.a2.outcome, 'joined');
      assert.notEqual(by.b1.incident_id, by.a1.incident_id, 'sharing only init and sshd links nothing');
      assert.notEqual(by.c1.incident_id, by.a1.incident_id, 'the same entity on another host is another process');
      const inc = (await store.get('t1', by.a1.incident_id))!;
      assert.deepEqual(inc.alert_ids, ['a1', 'a2', 'a3']);
      assert.equal(inc.alert_count, 3);
      assert.equal(inc.severity, 'high');
      assert.equal(inc.computed_severity, 'high');
      assert.equal(inc.status, 'open');
      assert.deepEqual(inc.host_ids, ['h1']);
      assert.equal(inc.first_seen, at(0));
      assert.equal(inc.last_seen, at(2));
      assert.equal(inc.title, 'Rule a2 on h1.example (+2 alerts)');
      assert.equal(await store.incidentOfAlert('t1', 'a2'), by.a1.incident_id);
      assert.equal(await store.incidentOfAlert('t2', 'a2'), undefined, 'another tenant');
      assert.equal(await store.get('t2', by.a1.incident_id), undefined, 'another tenant');
      assert.deepEqual((await store.alerts('t1', by.a1.incident_id, 10)).map((a) => [a.alert_id, a.level, a.added_by]), [['a1', 'low', 'detection'], ['a2', 'high', 'detection'], ['a3', 'medium', 'detection']]);
    });

    test('repeats widen their incident; beyond the window, or after it closed, the same lineage opens a new incident', async () => {
      const { store } = await fresh();
      const [first] = await store.assign([facts({ id: 'a1', chain: ['shell'], minute: 0 })]);
      const [again] = await store.assign([{ ...facts({ id: 'a1', chain: ['shell'], minute: 30 }) }]);
      assert.deepEqual(again, { alert_id: 'a1', incident_id: first.incident_id, outcome: 'known' });
      assert.equal((await store.get('t1', first.incident_id))!.last_seen, at(30));
      const [inWindow] = await store.assign([facts({ id: 'a2', chain: ['shell', 'y'], minute: 150 })]);
      assert.equal(inWindow.incident_id, first.incident_id, '2 h after the last activity (30 min) is still in');
      const [late] = await store.assign([facts({ id: 'a3', chain: ['shell', 'z'], minute: 150 + 121 })]);
      assert.equal(late.outcome, 'created');
      await store.closeIncident('t1', late.incident_id, { disposition: 'benign', reason: 'admin work', actor: 'user:x' }, noAudit);
      const [afterClose] = await store.assign([facts({ id: 'a4', chain: ['shell', 'w'], minute: 150 + 122 })]);
      assert.equal(afterClose.outcome, 'created', 'a closed incident takes no new alerts');
      assert.notEqual(afterClose.incident_id, late.incident_id);
    });

    test('correlations join the incident of their events, else their host\'s latest open incident, else a new one', async () => {
      const { store } = await fresh();
      const [a] = await store.assign([facts({ id: 'a1', chain: ['shell'], minute: 0, events: ['e1'] })]);
      const [b] = await store.assign([facts({ id: 'b1', chain: ['other'], minute: 5, events: ['e2'] })]);
      const [byEvent] = await store.assign([facts({ id: 'c1', correlation: true, minute: 6, events: ['e1', 'e9'], level: 'critical' })]);
      assert.equal(byEvent.incident_id, a.incident_id, 'holds event e1');
      assert.equal((await store.get('t1', a.incident_id))!.severity, 'critical');
      const [byHost] = await store.assign([facts({ id: 'c2', correlation: true, minute: 7, events: ['e8'] })]);
      assert.equal(byHost.incident_id, a.incident_id, 'the latest open incident of the host (a1\'s took the correlation at minute 6)');
      assert.notEqual(byHost.incident_id, b.incident_id);
      const [elsewhere] = await store.assign([facts({ id: 'c3', host: 'h9', correlation: true, minute: 7, events: ['e7'] })]);
      assert.equal(elsewhere.outcome, 'created');
    });

    test('two handles grouping one lineage at once (two workers) make one incident', async () => {
      const { store, second } = await fresh();
      const other = second();
      try {
        for (let round = 0; round < 5; round++) {
          const [x, y] = await Promise.all([
            store.assign([facts({ id: `r${round}-a`, chain: [`root-${round}`, `a-${round}`], minute: round })]),
            other.assign([facts({ id: `r${round}-b`, chain: [`root-${round}`, `b-${round}`], minute: round })]),
          ]);
          assert.equal(x[0].incident_id, y[0].incident_id, `round ${round}`);
          assert.deepEqual([x[0].outcome, y[0].outcome].sort(), ['created', 'joined']);
        }
        const all = await store.list({ tenantId: 't1', limit: 100 });
        assert.equal(all.total, 5);
      } finally {
        await other.close();
      }
    });

    test('list: filters, newest activity first, cursor pages, totals, tenant scoping', async () => {
      const { store } = await fresh();
      const ids: string[] = [];
      for (let i = 0; i < 7; i++) {
        const [r] = await store.assign([facts({ id: `x${i}`, chain: [`s${i}`], minute: i, host: i % 2 ? 'h2' : 'h1', level: i === 3 ? 'critical' : 'low' })]);
        ids.push(r.incident_id);
      }
      await store.assign([facts({ id: 'y', tenant: 't2', chain: ['s0'], minute: 0 })]);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.list({ tenantId: 't1', limit: 3, cursor });
        assert.equal(page.total, 7);
        seen.push(...page.incidents.map((i) => i.id));
        cursor = page.next ?? undefined;
      } while (cursor);
      assert.deepEqual(seen, [...ids].reverse());
      assert.deepEqual((await store.list({ tenantId: 't1', limit: 10, severities: ['critical'] })).incidents.map((i) => i.id), [ids[3]]);
      const h2 = await store.list({ tenantId: 't1', limit: 10, hostId: 'h2' });
      assert.equal(h2.total, 3);
      assert.ok(h2.incidents.every((i) => i.host_ids.includes('h2')));
      await store.update('t1', ids[0], { assignee: 'u-1', status: 'investigating' }, 'user:a', noAudit);
      assert.deepEqual((await store.list({ tenantId: 't1', limit: 10, assignee: 'u-1' })).incidents.map((i) => i.id), [ids[0]]);
      assert.equal((await store.list({ tenantId: 't1', limit: 10, assignee: null })).total, 6);
      assert.deepEqual((await store.list({ tenantId: 't1', limit: 10, statuses: ['investigating'] })).incidents.map((i) => i.id), [ids[0]]);
      assert.equal((await store.list({ tenantId: 't2', limit: 10 })).total, 1);
      await assert.rejects(store.list({ tenantId: 't1', limit: 10, cursor: 'not-a-cursor' }), /invalid cursor/);
    });

    test('changes: patch, notes, close, reopen hand their facts to the audit hook; a failing hook changes nothing', async () => {
      const { store } = await fresh();
      const [r] = await store.assign([facts({ id: 'a1', chain: ['shell'], level: 'medium' })]);
      const id = r.incident_id;
      const audits: Changes[] = [];
      const audit = async (c: Changes) => { audits.push(c); };
      let inc = await store.update('t1', id, { status: 'investigating', assignee: 'u-1', severity: 'critical', title: 'Mallory on web-1' }, 'user:a', audit);
      assert.equal(inc.status, 'investigating');
      assert.equal(inc.severity, 'critical');
      assert.equal(inc.severity_override, 'critical');
      assert.equal(inc.computed_severity, 'medium');
      assert.equal(inc.title, 'Mallory on web-1');
      assert.equal(inc.title_set, true);
      assert.deepEqual(audits.pop(), {
        status: { from: 'open', to: 'investigating' }, assignee: { from: null, to: 'u-1' }, title: { from: 'Rule a1 on h1.example', to: 'Mallory on web-1' },
        severity_override: { from: null, to: 'critical' }, severity: { from: 'medium', to: 'critical' },
      });
      await store.assign([facts({ id: 'a2', chain: ['shell', 'x'], minute: 1, level: 'high' })]);
      inc = (await store.get('t1', id))!;
      assert.equal(inc.title, 'Mallory on web-1', 'a title someone set stays');
      assert.equal(inc.severity, 'critical', 'the override stays');
      assert.equal(inc.computed_severity, 'high');
      inc = await store.update('t1', id, { severity: null }, 'user:a', audit);
      assert.equal(inc.severity, 'high');

      await assert.rejects(store.update('t1', id, { assignee: 'u-2' }, 'user:a', async () => { throw new Error('ledger down'); }), /ledger down/);
      assert.equal((await store.get('t1', id))!.assignee, 'u-1', 'unchanged');

      inc = await store.addNote('t1', id, { author: 'user:a', text: 'looks like netcat', at: at(5) }, audit);
      inc = await store.addNote('t1', id, { author: 'user:b', text: 'confirmed', at: at(6) }, audit);
      assert.deepEqual(inc.notes.map((n) => [n.author, n.text]), [['user:a', 'looks like netcat'], ['user:b', 'confirmed']]);

      inc = await store.closeIncident('t1', id, { disposition: 'true_positive', reason: 'contained', actor: 'user:a' }, audit);
      assert.equal(inc.status, 'closed');
      assert.equal(inc.disposition, 'true_positive');
      assert.equal(inc.close_reason, 'contained');
      assert.equal(inc.closed_by, 'user:a');
      assert.deepEqual(audits.pop(), { from_status: 'investigating', disposition: 'true_positive', reason: 'contained' });
      await assert.rejects(store.closeIncident('t1', id, { disposition: 'benign', reason: 'again', actor: 'user:a' }, audit), (e: unknown) => e instanceof IncidentError && e.code === 'incident_closed');
      await assert.rejects(store.update('t1', id, { title: 'x' }, 'user:a', audit), (e: unknown) => e instanceof IncidentError && e.code === 'incident_closed');

      inc = await store.reopen('t1', id, { reason: 'it came back', actor: 'user:b' }, audit);
      assert.equal(inc.status, 'open');
      assert.equal(inc.disposition, null);
      assert.equal(inc.close_reason, null);
      assert.deepEqual(audits.pop(), { reason: 'it came back', disposition: 'true_positive', close_reason: 'contained', closed_by: 'user:a' });
      await assert.rejects(store.reopen('t1', id, { actor: 'user:b' }, audit), (e: unknown) => e instanceof IncidentError && e.code === 'incident_not_closed');
      await assert.rejects(store.addNote('t2', id, { author: 'x', text: 'y', at: at(0) }, audit), (e: unknown) => e instanceof IncidentError && e.code === 'not_found');
    });

    test('moving alerts: in from another incident (left empty: closed), out into a new incident, keys follow', async () => {
      const { store } = await fresh();
      const [a] = await store.assign([facts({ id: 'a1', chain: ['sa'], minute: 0, level: 'low' })]);
      const [b] = await store.assign([facts({ id: 'b1', chain: ['sb'], minute: 1, level: 'high' })]);
      const audits: Changes[] = [];
      const moved = await store.moveAlerts('t1', a.incident_id, { add: [facts({ id: 'b1', chain: ['sb'], minute: 1, level: 'high' })], remove: [], actor: 'user:a' }, async (c) => { audits.push(c); });
      assert.deepEqual(moved.incident.alert_ids, ['a1', 'b1']);
      assert.equal(moved.incident.severity, 'high');
      assert.deepEqual(moved.from, { b1: b.incident_id });
      assert.deepEqual(moved.closed, [b.incident_id]);
      const left = (await store.get('t1', b.incident_id))!;
      assert.equal(left.status, 'closed');
      assert.equal(left.alert_count, 0);
      assert.match(left.close_reason!, new RegExp(a.incident_id));
      assert.deepEqual(audits[0], { added: ['b1'], removed: [], from: { b1: b.incident_id }, split_into: null, closed: [b.incident_id] });
      // b1's lineage now leads to a's incident.
      const [next] = await store.assign([facts({ id: 'b2', chain: ['sb', 'more'], minute: 2 })]);
      assert.equal(next.incident_id, a.incident_id);

      const split = await store.moveAlerts('t1', a.incident_id, { add: [], remove: ['a1'], actor: 'user:a' }, noAudit);
      assert.ok(split.split_into);
      assert.deepEqual(split.incident.alert_ids, ['b1', 'b2']);
      const other = (await store.get('t1', split.split_into))!;
      assert.deepEqual(other.alert_ids, ['a1']);
      assert.equal(other.status, 'open');
      assert.equal(await store.incidentOfAlert('t1', 'a1'), split.split_into);
      const [again] = await store.assign([facts({ id: 'a2', chain: ['sa', 'x'], minute: 3 })]);
      assert.equal(again.incident_id, split.split_into, 'a1\'s lineage moved with it');

      await assert.rejects(store.moveAlerts('t1', a.incident_id, { add: [], remove: ['a1'], actor: 'u' }, noAudit), (e: unknown) => e instanceof IncidentError && e.code === 'unknown_alert');
      await assert.rejects(store.moveAlerts('t1', 'no-such', { add: [], remove: [], actor: 'u' }, noAudit), (e: unknown) => e instanceof IncidentError && e.code === 'not_found');
      const failing = store.moveAlerts('t1', a.incident_id, { add: [facts({ id: 'a2', chain: ['sa', 'x'], minute: 3 })], remove: [], actor: 'u' }, async () => { throw new Error('ledger down'); });
      await assert.rejects(failing, /ledger down/);
      assert.equal(await store.incidentOfAlert('t1', 'a2'), split.split_into, 'unchanged');
    });

    test('response actions link explicitly and unlink', async () => {
      const { store } = await fresh();
      const [a] = await store.assign([facts({ id: 'a1', chain: ['s'] })]);
      let inc = await store.linkActions('t1', a.incident_id, { add: ['act-1', 'act-2', 'act-1'], remove: [], actor: 'user:a' }, noAudit);
      assert.deepEqual([...inc.action_ids].sort(), ['act-1', 'act-2']);
      inc = await store.linkActions('t1', a.incident_id, { add: [], remove: ['act-1'], actor: 'user:a' }, noAudit);
      assert.deepEqual(inc.action_ids, ['act-2']);
      await assert.rejects(store.linkActions('t2', a.incident_id, { add: ['x'], remove: [], actor: 'u' }, noAudit), (e: unknown) => e instanceof IncidentError && e.code === 'not_found');
    });
  });
}

test('SQLite: incident tables live beside the alert store\'s in one detection.db, each with its own migrations', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-incidents-shared-'));
  try {
    const path = join(dir, 'detection.db');
    const alerts = new SqliteAlertStore(path);
    await alerts.migrate();
    const incidents = new SqliteIncidentStore(path);
    await incidents.migrate();
    await incidents.migrate(); // idempotent
    const [r] = await incidents.assign([facts({ id: 'a1', chain: ['s'] })]);
    assert.equal((await incidents.get('t1', r.incident_id))!.alert_count, 1);
    await incidents.close();
    await alerts.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
