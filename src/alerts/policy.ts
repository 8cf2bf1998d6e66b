// The rules of delivery, without I/O: which alerts a sink takes (filters), when a failed delivery is tried again
// (exponential backoff with jitter), when it is given up (dead letter), how a sink's circuit breaker moves
// (closed → open after consecutive failures; open → half_open: one probe after the cool-down; the probe's success
// closes it, its failure opens it again), and a sink's token bucket (stored with the outbox: shared by the API
// processes). Pure: time and randomness are arguments.

import { factsOf, levelRank, tagsOf, type AlertDoc } from './formats.ts';
import type { BreakerState, BreakerUpdate, SinkFilters, SinkHealth } from './sink.ts';

export interface DeliveryPolicy {
  /** Attempts before a delivery is dead (the first included). */
  maxAttempts: number;
  /** First retry after about this long; doubling per attempt up to maxDelayMs, with jitter (half to all of it). */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Failures in a row that open a sink's breaker, and how long it stays open before a probe. */
  breakerThreshold: number;
  breakerCooldownMs: number;
  /** Repeats of a rule on a host inside this window are not delivered again to a sink (recorded `suppressed`). */
  repeatWindowMs: number;
}

export const DEFAULT_POLICY: DeliveryPolicy = {
  maxAttempts: 8, baseDelayMs: 1000, maxDelayMs: 300_000, breakerThreshold: 5, breakerCooldownMs: 30_000, repeatWindowMs: 300_000,
};

export function matchesFilters(filters: SinkFilters, a: AlertDoc): boolean {
  if (filters.min_severity && levelRank(a.rule.level) < levelRank(filters.min_severity)) return false;
  if (filters.rule_ids?.length && !filters.rule_ids.includes(a.rule.id)) return false;
  const f = factsOf(a);
  if (filters.rule_tags?.length) {
    const tags = new Set(tagsOf(f));
    if (!filters.rule_tags.some((t) => tags.has(t.toLowerCase()))) return false;
  }
  if (filters.mitre_tactics?.length) {
    const wanted = new Set(filters.mitre_tactics.map((t) => t.toLowerCase()));
    const ids = (a.techniques ?? []).flatMap((t) => t.tactics);
    if (!ids.some((t) => wanted.has(t.toLowerCase()))) return false;
  }
  return true;
}

/** When attempt `attempt` (1-based, just failed) is followed by the next: now + half to all of the capped doubling. */
export function nextAttemptAt(p: DeliveryPolicy, attempt: number, now: number, random: number): number {
  const ceiling = Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return now + Math.round(ceiling / 2 + random * (ceiling / 2));
}

/** The breaker after a delivery's result. */
export function breakerAfter(p: DeliveryPolicy, h: Pick<SinkHealth, 'breaker' | 'failures'>, ok: boolean, now: number): BreakerUpdate {
  if (ok) return { breaker: 'closed', breakerUntil: null, failures: 0 };
  const failures = h.failures + 1;
  if (h.breaker === 'half_open' || failures >= p.breakerThreshold) return { breaker: 'open', breakerUntil: now + p.breakerCooldownMs, failures };
  return { breaker: h.breaker === 'open' ? 'open' : 'closed', breakerUntil: null, failures };
}

/** What the breaker lets through now: every due delivery, none, or one probe (to be won with takeProbe). */
export function breakerAllows(h: Pick<SinkHealth, 'breaker' | 'breakerUntil'>, now: number): 'all' | 'none' | { probeFrom: BreakerState } {
  if (h.breaker === 'closed') return 'all';
  if (h.breakerUntil !== null && now < h.breakerUntil) return 'none';
  return { probeFrom: h.breaker };
}

/** A sink's token bucket as stored: tokens left at `at` (ms). */
export interface BucketState { tokens: number; at: number }

/**
 * The tokens a bucket of `perMinute` (also its capacity: a minute's burst) holds at `now`, refilled continuously
 * since `b` (a new bucket is full); a clock behind the bucket's refills nothing.
 */
export function bucketAt(b: BucketState | undefined, perMinute: number, now: number): BucketState {
  if (!b) return { tokens: perMinute, at: now };
  const elapsed = Math.max(0, now - b.at);
  return { tokens: Math.min(perMinute, b.tokens + (elapsed * perMinute) / 60_000), at: Math.max(b.at, now) };
}
