// The security services of an API process, opened together and closed together: the identity store and
// AuthService/UserDirectory, the audit ledger (the AuditSink of everything), the ledger verifier, and the
// per-user/per-tenant rate limits (in memory, or on Redis when several API processes share them). Keys live in
// the data directory (access-token-key.pem, ledger-key.pem), never in a database. A SQLite ledger has one writer
// per data directory (src/stores/ledger/writer-lock.ts): opening it while another process holds it fails.

import { mkdirSync } from 'node:fs';
import type pg from 'pg';
import { verifyStoredLedger } from '../stores/ledger/verify-stored.ts';
import { AccessTokens } from '../identity/access-token.ts';
import { AuthService } from '../identity/auth-service.ts';
import { PasswordHasher, type Argon2Params } from '../identity/password.ts';
import { MemoryRateLimiter, RequestRateLimits, type RateLimit, type RateLimiter } from '../identity/rate-limit.ts';
import { UserDirectory } from '../identity/users.ts';
import type { Ledger } from '../ledger/ledger.ts';
import type { VerifyReport } from '../ledger/verify.ts';
import { loadOrCreateAccessTokenKey, openIdentityStore } from '../stores/identity/open.ts';
import { RedisRateLimiter } from '../stores/identity/redis-rate-limit.ts';
import type { IdentityStore } from '../identity/store.ts';
import { ledgerPaths } from '../stores/ledger/key-file.ts';
import { openLedger } from '../stores/ledger/open.ts';
import { acquireLedgerWriterLock } from '../stores/ledger/writer-lock.ts';
import { StreamTickets } from './stream-ticket.ts';

export interface ApiSecurity {
  identity: IdentityStore;
  auth: AuthService;
  users: UserDirectory;
  ledger: Ledger;
  limits: RequestRateLimits;
  /** Single-use tickets of GET /stream (src/api/stream-ticket.ts), redeemable by every API process sharing the keys. */
  streamTickets: StreamTickets;
  /** Re-hashes the whole stored ledger and checks it against its signed checkpoints (and exported notes). */
  verifyLedger(external?: string[]): Promise<VerifyReport>;
  close(): Promise<void>;
}

export interface ApiSecurityOptions {
  /** Where identity.db, ledger.db and the key files live. */
  dataDir: string;
  /** Identity and ledger in PostgreSQL instead of SQLite files. */
  postgres?: pg.PoolConfig;
  /** Shared rate limits on Redis (e.g. redis://127.0.0.1:6379); in memory when absent. */
  redisUrl?: string;
  rateLimits?: { perUser?: RateLimit; perTenant?: RateLimit };
  /** argon2id parameters (tests lower them; production keeps the defaults). */
  passwordParams?: Argon2Params;
  /** Ledger checkpoint period (default 1 s). */
  checkpointIntervalMs?: number;
  /** Access-token lifetime (default: src/identity/access-token.ts; tests shorten it to see sessions refresh). */
  accessTokenTtlSeconds?: number;
}

export async function openApiSecurity(o: ApiSecurityOptions): Promise<ApiSecurity> {
  mkdirSync(o.dataDir, { recursive: true });
  const releaseLedger = o.postgres ? () => {} : acquireLedgerWriterLock(o.dataDir);
  let identity: IdentityStore;
  let ledger: Ledger;
  try {
    identity = await openIdentityStore({ dataDir: o.dataDir, postgres: o.postgres });
    ledger = await openLedger({ dataDir: o.dataDir, postgres: o.postgres, checkpointIntervalMs: o.checkpointIntervalMs ?? 1000 });
  } catch (err) {
    releaseLedger();
    throw err;
  }
  const limiter: RateLimiter = o.redisUrl ? await RedisRateLimiter.connect({ url: o.redisUrl }) : new MemoryRateLimiter();
  const passwords = new PasswordHasher({ params: o.passwordParams });
  const accessTokenKey = loadOrCreateAccessTokenKey(o.dataDir);
  const accessTokens = new AccessTokens({ key: accessTokenKey, ttlSeconds: o.accessTokenTtlSeconds });
  const location = { dataDir: o.dataDir, paths: ledgerPaths(o.dataDir), postgres: typeof o.postgres?.connectionString === 'string' ? o.postgres.connectionString : undefined };
  return {
    identity,
    auth: new AuthService({ store: identity, audit: ledger, accessTokens, passwords }),
    users: new UserDirectory({ store: identity, audit: ledger, passwords }),
    ledger,
    limits: new RequestRateLimits(limiter, o.rateLimits),
    streamTickets: new StreamTickets({ key: accessTokenKey, identity }),
    verifyLedger: (external) => verifyStoredLedger(location, external),
    async close() {
      await limiter.close();
      await ledger.close();
      releaseLedger();
      await identity.close();
    },
  };
}
