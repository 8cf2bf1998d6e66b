// Rate limiter conformance (one suite, in-memory and Redis): GCRA burst, sustained rate, Retry-After, key
// independence; plus Vigil's per-user and per-tenant limits. Redis tests use a unique key prefix and delete it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { gcra, MemoryRateLimiter, RequestRateLimits, type RateLimiter } from '../../src/identity/rate-limit.ts';
import { RedisRateLimiter } from '../../src/stores/identity/redis-rate-limit.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';

type Factory = (clock: () => number) => Promise<{ limiter: RateLimiter; cleanup(): Promise<void> }>;

const memory: Factory = async (clock) => {
  const limiter = new MemoryRateLimiter({ clock });
  return { limiter, cleanup: () => limiter.close() };
};

const redis: Factory = async (clock) => {
  const prefix = `vigil-test:${randomBytes(6).toString('hex')}:`;
  const limiter = await RedisRateLimiter.connect({ url: REDIS_URL, prefix, clock });
  return {
    limiter,
    cleanup: async () => {
      await limiter.close();
      const admin = await createClient({ url: REDIS_URL }).connect();
      const keys = await admin.keys(`${prefix}*`);
      if (keys.length > 0) await admin.del(keys);
      await admin.close();
    },
  };
};

async function drain(limiter: RateLimiter, key: string, limit: { perMinute: number; burst: number }, n: number): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < n; i++) if ((await limiter.consume(key, limit)).allowed) allowed++;
  return allowed;
}

function conformance(kind: string, make: Factory): void {
  const withLimiter = (name: string, body: (l: RateLimiter, clock: { now: number }) => Promise<void>) =>
    test(`${kind}: ${name}`, async () => {
      const clock = { now: 1_700_000_000_000 };
      const { limiter, cleanup } = await make(() => clock.now);
      try {
        await body(limiter, clock);
      } finally {
        await cleanup();
      }
    });

  withLimiter('admits the burst at once, then refuses with Retry-After', async (l) => {
    const limit = { perMinute: 60, burst: 10 };
    assert.deepEqual(await l.consume('a', limit), { allowed: true, remaining: 9 });
    assert.equal(await drain(l, 'a', limit, 20), 9);
    assert.deepEqual(await l.consume('a', limit), { allowed: false, retryAfterSeconds: 1 });
  });

  withLimiter('refills at the sustained rate', async (l, clock) => {
    const limit = { perMinute: 60, burst: 2 };
    assert.equal(await drain(l, 'a', limit, 5), 2);
    clock.now += 1000;
    assert.equal(await drain(l, 'a', limit, 5), 1);
    clock.now += 10_000;
    assert.equal(await drain(l, 'a', limit, 5), 2);
  });

  withLimiter('retry-after says when a request will pass', async (l, clock) => {
    const limit = { perMinute: 6, burst: 1 };
    assert.equal((await l.consume('a', limit)).allowed, true);
    const refused = await l.consume('a', limit);
    assert.deepEqual(refused, { allowed: false, retryAfterSeconds: 10 });
    clock.now += 9_000;
    assert.equal((await l.consume('a', limit)).allowed, false);
    clock.now += 1_000;
    assert.equal((await l.consume('a', limit)).allowed, true);
  });

  withLimiter('keys are independent; per-user and per-tenant limits both apply', async (l) => {
    const limits = new RequestRateLimits(l, { perUser: { perMinute: 60, burst: 3 }, perTenant: { perMinute: 60, burst: 5 } });
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await limits.check('t1', 'user:a')).allowed);
    assert.deepEqual(results, [true, true, true, false]);
    assert.equal((await limits.check('t1', 'user:b')).allowed, true);
    assert.equal((await limits.check('t1', 'user:c')).allowed, true);
    assert.deepEqual(await limits.check('t1', 'user:d'), { allowed: false, retryAfterSeconds: 1 });
    assert.equal((await limits.check('t2', 'user:a')).allowed, true);
  });
}

conformance('memory', memory);
conformance('redis', redis);

test('seed 001 defaults: 1,000/min per user with burst 2,000', () => {
  let tat: number | undefined;
  let allowed = 0;
  for (let i = 0; i < 2100; i++) {
    const step = gcra(tat, 0, { perMinute: 1000, burst: 2000 });
    if (step.decision.allowed) allowed++;
    tat = step.tat;
  }
  assert.equal(allowed, 2000);
});
