// The GCRA rate limiter on Redis (shared by every API process): one atomic Lua script per request, the same
// arithmetic as `gcra` in src/identity/rate-limit.ts, keys under a configurable prefix expiring when their
// bucket is full again. Times come from the injected clock (API hosts are NTP-synchronised).

import { createClient, type RedisClientType } from 'redis';
import { systemClock, type Clock } from '../../identity/clock.ts';
import { checkLimit, emissionIntervalMs, type RateDecision, type RateLimit, type RateLimiter } from '../../identity/rate-limit.ts';

// KEYS[1] = bucket; ARGV = now ms, emission interval ms, capacity ms (interval × burst).
// Returns { 1, remaining } or { 0, retry-after seconds }, as strings (Lua numbers would be truncated).
const GCRA_SCRIPT = `
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
if tat < now then tat = now end
local ahead = tat + interval - now
if ahead > capacity then
  return { '0', tostring(math.max(1, math.ceil((ahead - capacity) / 1000))) }
end
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.max(1, math.ceil(ahead)))
return { '1', tostring(math.floor((capacity - ahead) / interval)) }
`;

export interface RedisRateLimiterOptions {
  /** e.g. redis://127.0.0.1:6379 */
  url: string;
  /** Prefix of every key (default `vigil:rl:`). */
  prefix?: string;
  clock?: Clock;
}

export class RedisRateLimiter implements RateLimiter {
  private readonly client: RedisClientType;
  private readonly prefix: string;
  private readonly clock: Clock;

  private constructor(client: RedisClientType, opts: RedisRateLimiterOptions) {
    this.client = client;
    this.prefix = opts.prefix ?? 'vigil:rl:';
    this.clock = opts.clock ?? systemClock;
  }

  static async connect(opts: RedisRateLimiterOptions): Promise<RedisRateLimiter> {
    const client: RedisClientType = createClient({ url: opts.url });
    client.on('error', () => undefined); // surfaced by the failing command; the client reconnects
    await client.connect();
    return new RedisRateLimiter(client, opts);
  }

  async consume(key: string, limit: RateLimit): Promise<RateDecision> {
    checkLimit(limit);
    const interval = emissionIntervalMs(limit);
    const reply = await this.client.eval(GCRA_SCRIPT, {
      keys: [this.prefix + key],
      arguments: [String(this.clock()), String(interval), String(interval * limit.burst)],
    }) as [string, string];
    const value = Number(reply[1]);
    return reply[0] === '1' ? { allowed: true, remaining: value } : { allowed: false, retryAfterSeconds: value };
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}
