// Risk (seed 002 §11) against hand-computed cases: base over the busiest subject, the MITRE multiplier over the
// last 24 h only, each recency window, hosts and users, and the index's incremental updates.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { recencyDecay, riskScore, HOUR_MS, DAY_MS } from '../../src/risk/score.ts';
import { RiskIndex } from '../../src/risk/index.ts';

const NOW = Date.parse('2026-12-08T12:00:00Z');

test('one host alone: base = weighted / its own count, × techniques × decay', () => {
  // critical 10 + high 5 + medium 2 + low 1 = 18 over 4 alerts = 4.5; techniques T1059, T1105 in 24 h → 1.2;
  // last alert 10 minutes ago → 1.0: 4.5 × 1.2 × 1.0 = 5.4
  const r = riskScore([
    { level: 'critical', techniques: ['T1059'], lastSeen: NOW - 10 * 60_000 },
    { level: 'high', techniques: ['T1059', 'T1105'], lastSeen: NOW - 2 * HOUR_MS },
    { level: 'medium', techniques: [], lastSeen: NOW - 3 * HOUR_MS },
    { level: 'low', techniques: ['T1003'], lastSeen: NOW - 2 * DAY_MS }, // outside 24 h: its technique does not count
  ], 4, NOW);
  assert.equal(r.weighted_alerts, 18);
  assert.equal(r.base_score, 4.5);
  assert.deepEqual(r.techniques_24h, ['T1059', 'T1105']);
  assert.equal(r.mitre_mult, 1.2);
  assert.equal(r.recency_decay, 1.0);
  assert.equal(r.score, 5.4);
  assert.deepEqual(r.by_severity, { critical: 1, high: 1, medium: 1, low: 1 });
});

test('recency windows: < 1 h 1.0, < 24 h 0.8, else 0.5; informational weighs 0', () => {
  assert.equal(recencyDecay(NOW - HOUR_MS + 1, NOW), 1.0);
  assert.equal(recencyDecay(NOW - HOUR_MS, NOW), 0.8);
  assert.equal(recencyDecay(NOW - DAY_MS + 1, NOW), 0.8);
  assert.equal(recencyDecay(NOW - DAY_MS, NOW), 0.5);
  // 2 high = 10 over max 5 alerts = 2; no technique → 1; 5 h ago → 0.8: 1.6
  assert.equal(riskScore([{ level: 'high', techniques: [], lastSeen: NOW - 5 * HOUR_MS }, { level: 'high', techniques: [], lastSeen: NOW - 6 * HOUR_MS }], 5, NOW).score, 1.6);
  // 1 informational over 1: 0 × … = 0 (counted as an alert, weighs nothing)
  assert.equal(riskScore([{ level: 'informational', techniques: ['T1'], lastSeen: NOW - 3 * DAY_MS }], 1, NOW).score, 0);
  assert.equal(riskScore([], 3, NOW).score, 0);
});

test('the index: hosts relative to the busiest host, users alike, incremental put/replace/remove', () => {
  const idx = new RiskIndex();
  // host A: critical (T1059, 30 min ago) + low (no technique, 2 h ago): 11 over max 3 (host B has 3)
  idx.put('t', { id: 'a1', hostId: 'A', userName: 'root', level: 'critical', techniques: ['T1059'], lastSeen: NOW - 30 * 60_000 });
  idx.put('t', { id: 'a2', hostId: 'A', userName: 'alice', level: 'low', techniques: [], lastSeen: NOW - 2 * HOUR_MS });
  // host B: 3 medium, 2 days ago: 6 / 3 = 2 × 1 × 0.5 = 1
  for (const i of [1, 2, 3]) idx.put('t', { id: `b${i}`, hostId: 'B', userName: 'root', level: 'medium', techniques: ['T1003'], lastSeen: NOW - 2 * DAY_MS });
  // A: 11/3 = 3.667 × 1.1 × 1.0 = 4.0333 → 4.033
  assert.equal(idx.score('t', 'host', 'A', NOW).score, 4.033);
  assert.equal(idx.score('t', 'host', 'B', NOW).score, 1);
  assert.deepEqual(idx.top('t', 'host', 10, NOW).map((h) => h.id), ['A', 'B']);
  // users: root has 4 alerts (a1 + b1..b3) → max 4: (10 + 6)/4 = 4 × 1.1 (T1059 in 24 h; T1003 is older) × 1.0 = 4.4
  assert.equal(idx.score('t', 'user', 'root', NOW).score, 4.4);
  // alice: 1/4 = 0.25 × 1 × 0.8 = 0.2
  assert.equal(idx.score('t', 'user', 'alice', NOW).score, 0.2);
  // the critical alert closed: A has the low one only, max is still 3: 1/3 × 1 × 0.8 = 0.267
  idx.remove('t', 'a1');
  assert.equal(idx.score('t', 'host', 'A', NOW).score, 0.267);
  // a repeat replaces the alert's state: a2 seen again now → decay 1.0: 1/3 = 0.333
  idx.put('t', { id: 'a2', hostId: 'A', userName: 'alice', level: 'low', techniques: [], lastSeen: NOW });
  assert.equal(idx.score('t', 'host', 'A', NOW).score, 0.333);
  assert.equal(idx.score('other', 'host', 'A', NOW).score, 0, 'tenants are apart');
});
