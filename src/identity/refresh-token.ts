// Refresh tokens: opaque (`vrt_…`), valid 7 days, stored only as SHA-256, rotated at every use. The tokens issued
// from one login form a family; presenting a token that was already exchanged (a stolen copy, or the thief's
// after the owner refreshed) is reuse: the whole family is revoked and every token of it stops working. The
// store's atomic mark-used makes concurrent use of one token count as reuse too. Clock and randomness injected.

import type { IdentityStore, RefreshFamilyRecord } from './store.ts';
import { randomId, systemClock, systemRandom, type Clock, type Random } from './clock.ts';
import { AuthError } from './errors.ts';
import { credentialKind, hashSecret, newSecret, REFRESH_TOKEN_PREFIX } from './secrets.ts';

export const REFRESH_TTL_MS = 7 * 24 * 3600 * 1000;

/** Reuse of a refresh token; says whose session was revoked, for the audit record. */
export class RefreshReuseError extends AuthError {
  readonly family: RefreshFamilyRecord;

  constructor(family: RefreshFamilyRecord) {
    super('reuse_detected', 'refresh token was already used: the session is revoked');
    this.family = family;
  }
}

export interface IssuedRefreshToken {
  token: string;
  family: RefreshFamilyRecord;
  expiresAt: number;
}

export class RefreshTokens {
  private readonly store: IdentityStore;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly ttlMs: number;

  constructor(opts: { store: IdentityStore; clock?: Clock; random?: Random; ttlMs?: number }) {
    this.store = opts.store;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? systemRandom;
    this.ttlMs = opts.ttlMs ?? REFRESH_TTL_MS;
  }

  /** Starts a new family (a login) with its first token. */
  async start(tenantId: string, userId: string): Promise<IssuedRefreshToken> {
    const family: RefreshFamilyRecord = {
      id: randomId(this.random), tenantId, userId, createdAt: this.clock(), revokedAt: null, revokedReason: null,
    };
    await this.store.createRefreshFamily(family);
    return this.issue(family);
  }

  private async issue(family: RefreshFamilyRecord): Promise<IssuedRefreshToken> {
    const token = newSecret(REFRESH_TOKEN_PREFIX, this.random);
    const issuedAt = this.clock();
    const expiresAt = issuedAt + this.ttlMs;
    await this.store.addRefreshToken({
      id: randomId(this.random), familyId: family.id, tokenHash: hashSecret(token), issuedAt, expiresAt, usedAt: null,
    });
    return { token, family, expiresAt };
  }

  /** The family of a presented token, after checking its shape, existence, family and expiry (no rotation). */
  private async lookup(token: string) {
    if (credentialKind(token) !== 'refresh') {
      throw credentialKind(token) === 'unknown'
        ? new AuthError('malformed', 'not a refresh token')
        : new AuthError('wrong_type', 'token is not a refresh token');
    }
    const record = await this.store.findRefreshToken(hashSecret(token));
    if (!record) throw new AuthError('revoked', 'refresh token is unknown (revoked or expired and purged)');
    const family = await this.store.getRefreshFamily(record.familyId);
    if (!family || family.revokedAt !== null) throw new AuthError('revoked', 'refresh token belongs to a revoked session');
    return { record, family };
  }

  /**
   * Exchanges `token` for its successor in the same family. Throws AuthError: malformed, wrong_type, revoked
   * (unknown or revoked family), expired, reuse_detected (the family is revoked as a result).
   */
  async rotate(token: string): Promise<IssuedRefreshToken> {
    const { record, family } = await this.lookup(token);
    const now = this.clock();
    if (record.usedAt === null && record.expiresAt <= now) throw new AuthError('expired', 'refresh token has expired');
    if (record.usedAt !== null || !(await this.store.markRefreshTokenUsed(record.id, now))) {
      await this.store.revokeRefreshFamily(family.id, now, 'reuse-detected');
      throw new RefreshReuseError(family);
    }
    return this.issue(family);
  }

  /** The live family of `token`, or undefined when it is not a refresh token, unknown or of a revoked session. */
  async familyOf(token: string): Promise<RefreshFamilyRecord | undefined> {
    if (credentialKind(token) !== 'refresh') return undefined;
    const record = await this.store.findRefreshToken(hashSecret(token));
    const family = record && await this.store.getRefreshFamily(record.familyId);
    return family && family.revokedAt === null ? family : undefined;
  }

  /** Revokes the family of `token` (logout). Returns the family revoked. */
  async revoke(token: string, reason: string): Promise<RefreshFamilyRecord> {
    const { family } = await this.lookup(token);
    await this.store.revokeRefreshFamily(family.id, this.clock(), reason);
    return family;
  }

  revokeFamily(familyId: string, reason: string): Promise<boolean> {
    return this.store.revokeRefreshFamily(familyId, this.clock(), reason);
  }

  revokeAllOf(tenantId: string, userId: string, reason: string): Promise<number> {
    return this.store.revokeUserRefreshFamilies(tenantId, userId, this.clock(), reason);
  }
}
