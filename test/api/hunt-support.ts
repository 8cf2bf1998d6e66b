// Shared by the hunt isolation tests: a hunt far longer than any time limit, and tenant B's event searches
// polled while tenant A's hunts run.

import assert from 'node:assert/strict';
import { call, type Fixture } from './support.ts';

/** A triple cross join with a hash per row over A's events: far longer than the time limit. */
export const HEAVY = 'SELECT count() FROM telemetry_events AS a, telemetry_events AS b, telemetry_events AS c WHERE cityHash64(a.event_id, b.event_id, c.event_id) % 7 = 1';

/** Polls tenant B's event search until `done` settles; each request a real engine read (a new `from`, so the result cache cannot answer). Latencies sorted. */
export async function pollEventsWhile(f: Fixture, done: Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  let finished = false;
  void done.finally(() => { finished = true; });
  const base = Date.now() - 86_400_000;
  for (let i = 0; !finished; i++) {
    const t0 = performance.now();
    const r = await call(f, 'GET', `/events?limit=5&from=${new Date(base + i).toISOString()}`, { token: f.tokens.foreign });
    latencies.push(performance.now() - t0);
    assert.equal(r.status, 200);
    assert.equal(r.body.events.length, 5);
    await new Promise((r) => setTimeout(r, 50));
  }
  return latencies.sort((a, b) => a - b);
}
