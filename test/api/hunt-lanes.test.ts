// Hunts run on a lane of their own in the embedded server (real chdb, real agents): with the hunt bounds opened
// to 3 per tenant, three heavy hunts of tenant A all run (two at once on the engine's hunt sessions, the third
// after them), each stopped by the engine at its time limit, while tenant B's GET /events?limit=5 stays fast.
// The lane, not the bound, is what keeps B's searches from queueing behind A's hunts (figures as a diagnostic).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { call, drained, startFixture, type Fixture } from './support.ts';
import { HEAVY, pollEventsWhile } from './hunt-support.ts';

const LIMIT_S = 3;

let f: Fixture;
before(async () => {
  f = await startFixture({ hunt: { maxExecutionSeconds: LIMIT_S, maxConcurrentPerTenant: 3, maxConcurrent: 3, queueWaitMs: 10_000 } });
  const own = f.agents[0];
  for (let i = 0; i < 3; i++) await own.send(own.syntheticEvents(500));
  await drained(f);
});
after(async () => f.stop());

test('three heavy hunts of tenant A all run to their limit; tenant B\'s searches stay fast', async (t) => {
  const started = performance.now();
  const huntsOfA = Promise.all([0, 1, 2].map(async () => {
    const r = await call(f, 'POST', '/hunt', { token: f.tokens.analyst, body: { sql: HEAVY } });
    t.diagnostic(`tenant A hunt: ${r.status} ${r.body.code} after ${Math.round(performance.now() - started)} ms`);
    return r;
  }));
  const latencies = await pollEventsWhile(f, huntsOfA);
  const p95 = Math.round(latencies[Math.floor(latencies.length * 0.95)]);
  const max = Math.round(latencies[latencies.length - 1]);
  t.diagnostic(`tenant B GET /events?limit=5 during 3 running heavy hunts of tenant A (limit ${LIMIT_S} s): n=${latencies.length} p50=${Math.round(latencies[latencies.length >> 1])} ms p95=${p95} ms max=${max} ms`);
  assert.ok(p95 < 3_000 && max < 3_000, `p95 ${p95} ms, max ${max} ms`);
  const results = await huntsOfA;
  assert.deepEqual(results.map((r) => `${r.status} ${r.body.code}`), ['422 hunt_timeout', '422 hunt_timeout', '422 hunt_timeout']);
});
