// Rate limiting by GCRA (the generic cell rate algorithm: a token bucket kept as one "theoretical arrival time"
// per key). A limit of N per minute with burst B admits B requests at once, then one every 60/N seconds; a
// refusal says after how many seconds a retry will pass (the API's 429 Retry-After). The RateLimiter interface
// has an in-memory implementation here and a Redis one (src/stores/identity/redis-rate-limit.ts) that pass one
// conformance suite; RequestRateLimits applies Vigil's per-user and per-tenant limits (seed 001).

import { systemClock, type Clock } from './clock.ts';

export interface RateLimit {
  perMinute: number;
  /** Requests admitted at once from idle (seed 001: 2× the per-minute limit). */
  burst: number;
}

export type RateDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterSeconds: number };

export interface RateLimiter {
  /** Takes one request from `key`'s bucket under `limit`. */
  consume(key: string, limit: RateLimit): Promise<RateDecision>;
  close(): Promise<void>;
}

export const PER_USER: RateLimit = { perMinute: 1000, burst: 2000 };
export const PER_TENANT: RateLimit = { perMinute: 10000, burst: 20000 };

export class RateLimitError extends Error {
  override name = 'RateLimitError';
}

export function checkLimit(limit: RateLimit): void {
  if (!(limit.perMinute > 0) || !Number.isInteger(limit.burst) || limit.burst < 1) {
    throw new RateLimitError(`rate limit needs perMinute > 0 and an integer burst >= 1, got ${JSON.stringify(limit)}`);
  }
}

/** Milliseconds between admitted requests at the sustained rate. */
export const emissionIntervalMs = (limit: RateLimit): number => 60_000 / limit.perMinute;

export interface GcraStep {
  decision: RateDecision;
  /** The key's new theoretical arrival time (unchanged when refused). */
  tat: number;
}

/** One GCRA step: `tat` is the key's stored theoretical arrival time (undefined for a new key). */
export function gcra(tat: number | undefined, now: number, limit: RateLimit): GcraStep {
  const interval = emissionIntervalMs(limit);
  const capacityMs = interval * limit.burst;
  const start = Math.max(tat ?? now, now);
  const next = start + interval;
  const ahead = next - now;
  if (ahead > capacityMs) {
    return { decision: { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((ahead - capacityMs) / 1000)) }, tat: start };
  }
  return { decision: { allowed: true, remaining: Math.floor((capacityMs - ahead) / interval) }, tat: next };
}

/** In-process limiter (one server process): a map of theoretical arrival times, swept of idle keys. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly tats = new Map<string, number>();
  private readonly clock: Clock;
  private readonly maxKeys: number;

  constructor(opts: { clock?: Clock; maxKeys?: number } = {}) {
    this.clock = opts.clock ?? systemClock;
    this.maxKeys = opts.maxKeys ?? 100_000;
  }

  async consume(key: string, limit: RateLimit): Promise<RateDecision> {
    checkLimit(limit);
    const now = this.clock();
    const step = gcra(this.tats.get(key), now, limit);
    if (step.decision.allowed) {
      if (this.tats.size >= this.maxKeys && !this.tats.has(key)) this.sweep(now);
      this.tats.set(key, step.tat);
    }
    return step.decision;
  }

  /** Forgets keys whose bucket is full again (their arrival time has passed): they behave as new keys. */
  private sweep(now: number): void {
    for (const [key, tat] of this.tats) if (tat <= now) this.tats.delete(key);
  }

  async close(): Promise<void> {
    this.tats.clear();
  }
}

/** Vigil's request limits: per user (or API key) and per tenant; a request must pass both. */
export class RequestRateLimits {
  private readonly limiter: RateLimiter;
  private readonly perUser: RateLimit;
  private readonly perTenant: RateLimit;

  constructor(limiter: RateLimiter, opts: { perUser?: RateLimit; perTenant?: RateLimit } = {}) {
    this.limiter = limiter;
    this.perUser = opts.perUser ?? PER_USER;
    this.perTenant = opts.perTenant ?? PER_TENANT;
  }

  /** `subject` is the principal's `user:<id>` or `apikey:<id>`. */
  async check(tenantId: string, subject: string): Promise<RateDecision> {
    const user = await this.limiter.consume(`user:${tenantId}:${subject}`, this.perUser);
    if (!user.allowed) return user;
    const tenant = await this.limiter.consume(`tenant:${tenantId}`, this.perTenant);
    if (!tenant.allowed) return tenant;
    return { allowed: true, remaining: Math.min(user.remaining, tenant.remaining) };
  }
}
