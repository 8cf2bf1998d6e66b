// One tenant's hunts cannot stall another tenant's searches (real embedded server, real chdb, real agents):
// tenant A fires three heavy hunts at once while tenant B polls GET /events?limit=5 and runs a hunt of its own.
// With the default hunt bounds (1 running per tenant, 2 in all, a 2 s queue) one of A's hunts runs until the
// engine stops it at its time limit (422 hunt_timeout) and the other two are refused with 429 hunt_busy and
// Retry-After; B's hunt runs beside A's; B's searches stay fast (figures as a test diagnostic). Also through the
// API: CTEs named like a table, server-introspection functions and engine internals in errors.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { call, drained, startFixture, type Fixture } from './support.ts';
import { HEAVY, pollEventsWhile } from './hunt-support.ts';

const LIMIT_S = 4;

let f: Fixture;
before(async () => {
  f = await startFixture({ hunt: { maxExecutionSeconds: LIMIT_S } });
  const own = f.agents[0]; // tenant A: the default tenant's agent
  for (let i = 0; i < 3; i++) await own.send(own.syntheticEvents(500));
  await drained(f);
});
after(async () => f.stop());

const hunt = (token: string, sql: string) => call(f, 'POST', '/hunt', { token, body: { sql } });


const figures = (l: number[]) => ({ n: l.length, p50: Math.round(l[l.length >> 1]), p95: Math.round(l[Math.floor(l.length * 0.95)]), max: Math.round(l[l.length - 1]) });

test('three heavy hunts of tenant A: one runs to its limit, two get 429; tenant B hunts and searches meanwhile', async (t) => {
  const started = performance.now();
  const huntsOfA = Promise.all([0, 1, 2].map(async () => {
    const r = await hunt(f.tokens.analyst, HEAVY);
    t.diagnostic(`tenant A hunt: ${r.status} ${r.body.code} after ${Math.round(performance.now() - started)} ms`);
    return r;
  }));
  const polled = pollEventsWhile(f, huntsOfA);
  await new Promise((r) => setTimeout(r, 300));
  const ownOfB = await hunt(f.tokens.foreign, 'SELECT count() AS n FROM telemetry_events');
  const bHuntMs = performance.now() - started;
  const latencies = await polled;
  const results = await huntsOfA;
  const s = figures(latencies);
  t.diagnostic(`tenant B GET /events?limit=5 during 3 heavy hunts of tenant A (limit ${LIMIT_S} s, defaults 1/tenant, 2 in all): n=${s.n} p50=${s.p50} ms p95=${s.p95} ms max=${s.max} ms; B's own hunt answered after ${Math.round(bHuntMs)} ms`);
  assert.ok(s.p95 < 3_000 && s.max < 3_000, JSON.stringify(s));
  assert.equal(ownOfB.status, 200, JSON.stringify(ownOfB.body));
  assert.equal(Number(ownOfB.body.rows[0][0]), 20);
  assert.ok(bHuntMs < 2_000, `B's hunt waited ${Math.round(bHuntMs)} ms behind A's`);
  const byStatus = results.map((r) => `${r.status} ${r.body.code}`).sort();
  assert.deepEqual(byStatus, ['422 hunt_timeout', '429 hunt_busy', '429 hunt_busy']);
  for (const r of results.filter((x) => x.status === 429)) {
    assert.equal(r.headers.get('retry-after'), String(LIMIT_S));
    assert.match(r.body.detail, /this tenant already runs 1 hunt/);
  }
  const timedOut = results.find((r) => r.status === 422)!;
  assert.doesNotMatch(timedOut.body.detail, /DB::Exception|Code: \d+|\(version |TIMEOUT_EXCEEDED/);
  // The slot is free again once the engine has stopped the query.
  assert.equal((await hunt(f.tokens.analyst, 'SELECT count() FROM telemetry_events')).status, 200);
});

test('through the API: CTEs named like a table and server-introspection functions are 400; errors show no internals', async () => {
  for (const [sql, code] of [
    ['WITH events AS (SELECT event_id FROM telemetry_events) SELECT count() FROM events', 'hunt_table_not_allowed'],
    ['WITH telemetry_events AS (SELECT 1 AS x) SELECT * FROM telemetry_events', 'hunt_table_not_allowed'],
    ['SELECT version()', 'hunt_function_not_allowed'],
    ['SELECT hostName(), uptime()', 'hunt_function_not_allowed'],
    ["SELECT getSetting('max_memory_usage')", 'hunt_function_not_allowed'],
    ['SELECT currentUser()', 'hunt_function_not_allowed'],
    ["SELECT dictGet('any_dict', 'attr', toUInt64(1))", 'hunt_function_not_allowed'],
  ]) {
    const r = await hunt(f.tokens.analyst, sql);
    assert.deepEqual([r.status, r.body.code], [400, code], `${sql}: ${JSON.stringify(r.body)}`);
  }
  const failed = await hunt(f.tokens.analyst, 'SELECT no_such_column FROM telemetry_events');
  assert.deepEqual([failed.status, failed.body.code], [422, 'hunt_query_failed']);
  assert.equal(failed.body.detail, 'Unknown expression identifier `no_such_column`');
});
