// POST /rules/test reads the requested range, not the newest 10,000 events: a real embedded server stores 25,000
// events of the default tenant (the marker event the oldest of them) and the dry run finds the marker, says how
// many events it read over which range and that it read all of it. A time budget stops a scan before the range's
// start and says so (RuleService.scan over a keyset pager with a clock that advances per page).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadCompileOptions } from '../../src/detect/loader.ts';
import { RuleRegistry } from '../../src/detect/registry.ts';
import { RuleService, type EventPager } from '../../src/detect/rule-service.ts';
import { DetectionStage } from '../../src/detect/stage.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { SqlRuleStateStore } from '../../src/stores/rules/sql-rule-state-store.ts';
import { openSqliteDb } from '../../src/stores/sql/sqlite-db.ts';
import { call, drained, startFixture, type Fixture } from './support.ts';

const TOTAL = 25_000;
const MARKER = 'vigil-scan-marker-7f3a';
const RULE = `title: scan marker
id: 9d0c6f7e-1b2a-4c3d-8e9f-00000000a001
status: test
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    CommandLine|contains: '${MARKER}'
  condition: sel
level: high
`;

let f: Fixture;
let markerTime: number;
const now = Date.now();

before(async () => {
  f = await startFixture();
  const [own, foreign] = f.agents;
  // TOTAL events over the last 100 minutes, one every 240 ms; the oldest one is the marker.
  const events = own.syntheticEvents(TOTAL);
  events.forEach((e, i) => { e['@timestamp'] = new Date(now - (TOTAL - i) * 240).toISOString(); });
  const marker = own.syntheticEvents(1, { executable: '/usr/bin/curl', args: ['curl', `http://x/${MARKER}`] })[0];
  markerTime = now - (TOTAL + 1) * 240;
  marker['@timestamp'] = new Date(markerTime).toISOString();
  events.unshift(marker);
  for (let i = 0; i < events.length; i += 2_000) await own.send(events.slice(i, i + 2_000));
  // Another tenant's marker, newer: never part of the default tenant's dry run.
  const theirs = foreign.syntheticEvents(1, { executable: '/usr/bin/curl', args: ['curl', `http://y/${MARKER}`] });
  await foreign.send(theirs);
  await drained(f);
});
after(async () => f.stop());

const dryRun = (body: Record<string, unknown>) => call(f, 'POST', '/rules/test', { token: f.tokens.analyst, body: { yaml: RULE, ...body } });

test('the dry run reads the whole default range (24 h) page by page and finds the oldest of 25,000 events', async () => {
  const r = await dryRun({});
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.matches, 1, 'the marker, older than the newest 10,000 events, is found; the other tenant\'s is not');
  assert.equal(r.body.alerts[0].tenant_id, 'default');
  const s = r.body.scan;
  assert.ok(s.events_scanned >= TOTAL + 1, `read ${s.events_scanned} events`);
  assert.equal(r.body.events_tested, s.events_scanned);
  assert.ok(s.pages >= 3, `${s.pages} pages`);
  assert.equal(s.complete, true);
  assert.equal(s.stopped_at_budget, false);
  assert.deepEqual(s.event_types, ['memfd_exec', 'process_start'], 'only the rule\'s logsource is read');
  assert.ok(Math.abs(Date.parse(s.to) - Date.now()) < 60_000);
  assert.equal(Date.parse(s.to) - Date.parse(s.from), 24 * 3_600_000);
  assert.equal(s.covered_from, s.from);
  assert.equal(s.oldest_event, new Date(markerTime).toISOString());
  assert.match(s.summary, /^1 matches in \d+ events scanned, the whole range /);
  console.log(`# dry run: ${s.events_scanned} events in ${s.pages} pages, ${s.elapsed_ms} ms`);
});

test('from and to bound the range', async () => {
  const without = await dryRun({ from: new Date(markerTime + 1).toISOString(), to: new Date(now + 60_000).toISOString() });
  assert.equal(without.status, 200);
  assert.equal(without.body.matches, 0);
  assert.equal(without.body.scan.events_scanned, TOTAL + 20, 'every event of the range and nothing before it (the fixture\'s 20 are recent)');
  const only = await dryRun({ from: new Date(markerTime - 1_000).toISOString(), to: new Date(markerTime + 1).toISOString() });
  assert.deepEqual([only.body.matches, only.body.scan.events_scanned, only.body.scan.complete], [1, 1, true]);
  const hours = await dryRun({ hours: 1 });
  assert.equal(hours.body.matches, 0, 'the marker is older than an hour');
  assert.equal((await dryRun({ hours: 1, from: new Date(now - 1_000).toISOString() })).status, 400);
  assert.equal((await dryRun({ from: new Date(now).toISOString(), to: new Date(now - 1_000).toISOString() })).status, 400);
  assert.equal((await dryRun({ budget_seconds: 0 })).status, 400);
});

test('a rule for a log source Vigil does not collect reads nothing and says so', async () => {
  const r = await dryRun({ yaml: RULE.replace('product: linux\n  category: process_creation', 'product: linux\n  service: auditd') });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual([r.body.matches, r.body.scan.events_scanned, r.body.scan.complete], [0, 0, true]);
  assert.deepEqual(r.body.scan.event_types, []);
});

test('a scan stops at its time budget, and says how far back it read', async () => {
  // 5 pages of 1,000 events, newest first, a match in the newest and in the oldest page; each page costs 400 ms.
  const events: VigilEvent[] = [];
  for (let i = 0; i < 5_000; i++) {
    const exe = i === 10 || i === 4_990 ? `/usr/bin/${MARKER}` : '/usr/bin/true';
    events.push({ '@timestamp': new Date(now - i * 1000).toISOString(), agent: { id: 'agt-1', tenant_id: 'default' }, host: { id: 'h' },
      event: { id: `e${i}`, type: 'process_start' }, process: { executable: exe, command_line: exe, pid: i, entity_id: `p${i}` } } as VigilEvent);
  }
  const page: EventPager = async (cursor) => {
    const start = cursor ? Number(cursor) : 0;
    clock += 400;
    return { events: events.slice(start, start + 1_000), next: start + 1_000 < events.length ? String(start + 1_000) : null };
  };
  let clock = 0;
  const service = new RuleService(new RuleRegistry(loadCompileOptions({})), await SqlRuleStateStore.open(openSqliteDb(':memory:')), new DetectionStage({ rules: [], correlations: [] }, { write: async () => {} }));
  const r = await service.scan(RULE, { page, budgetMs: 1_000, now: () => clock });
  assert.deepEqual([r.pages, r.eventsScanned, r.complete, r.stoppedAtBudget, r.matches], [3, 3_000, false, true, 1]);
  assert.equal(r.oldestScanned, events[2_999]['@timestamp']);
  clock = 0;
  const all = await service.scan(RULE, { page, budgetMs: 10_000, now: () => clock });
  assert.deepEqual([all.pages, all.complete, all.stoppedAtBudget, all.matches], [5, true, false, 2]);
});
