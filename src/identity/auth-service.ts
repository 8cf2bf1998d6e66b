// AuthService: the façade the API calls for authentication. Login (password, TOTP, lockout, rehash on parameter
// change) → access JWT + refresh token; refresh with rotation and reuse detection; logout; verification of
// access tokens and API keys into a Principal; API-key management. Every login success and failure and every
// privileged change is recorded through the AuditSink (the ledger); recording failures propagate (fail closed).
// Time and randomness injected. Secrets are never logged or recorded.

import type { AuditSink } from '../ledger/sink.ts';
import type { ApiKeyOrder, ApiKeyRecord, IdentityStore, UserRecord } from '../stores/identity/types.ts';
import type { KeysetPage } from '../stores/keyset.ts';
import { AccessTokens } from './access-token.ts';
import { ApiKeys } from './api-key.ts';
import { systemClock, systemRandom, type Clock, type Random } from './clock.ts';
import { AuthError } from './errors.ts';
import { DEFAULT_LOCKOUT, lockAfterFailure, lockRemainingMs, type LockoutPolicy } from './lockout.ts';
import { PasswordHasher } from './password.ts';
import { isRole } from './permissions.ts';
import { apiKeyPrincipal, requirePermission, userPrincipal, type Principal } from './principal.ts';
import { RefreshReuseError, RefreshTokens } from './refresh-token.ts';
import { credentialKind } from './secrets.ts';
import { base32Decode, verifyTotp } from './totp.ts';

export interface AuthServiceOptions {
  store: IdentityStore;
  audit: AuditSink;
  accessTokens: AccessTokens;
  passwords?: PasswordHasher;
  lockout?: LockoutPolicy;
  refreshTtlMs?: number;
  clock?: Clock;
  random?: Random;
}

/** Per-request facts recorded with audit entries. */
export interface RequestContext {
  requestId?: string;
}

export interface LoginRequest {
  tenantId: string;
  email: string;
  password: string;
  /** The 6-digit TOTP code, required once the user has enrolled MFA. */
  totp?: string;
}

export interface TokenPair {
  accessToken: string;
  /** Seconds the access token is valid. */
  expiresIn: number;
  refreshToken: string;
  refreshExpiresAt: number;
  principal: Principal;
}

const MAX_SECRET_INPUT = 1024;

/** Normalised e-mail: trimmed, lower case. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

function checkLoginShape(r: LoginRequest): void {
  const fields = [r.tenantId, r.email, r.password];
  if (fields.some((f) => typeof f !== 'string' || f.length === 0 || f.length > MAX_SECRET_INPUT)
    || (r.totp !== undefined && typeof r.totp !== 'string')) {
    throw new AuthError('invalid_request', 'login needs tenant, email and password as non-empty strings (and totp as a string)');
  }
}

export class AuthService {
  readonly store: IdentityStore;
  readonly audit: AuditSink;
  readonly accessTokens: AccessTokens;
  readonly passwords: PasswordHasher;
  readonly refreshTokens: RefreshTokens;
  readonly apiKeys: ApiKeys;
  private readonly lockout: LockoutPolicy;
  private readonly clock: Clock;

  constructor(opts: AuthServiceOptions) {
    const clock = opts.clock ?? systemClock;
    const random = opts.random ?? systemRandom;
    this.store = opts.store;
    this.audit = opts.audit;
    this.accessTokens = opts.accessTokens;
    this.passwords = opts.passwords ?? new PasswordHasher({ random });
    this.refreshTokens = new RefreshTokens({ store: opts.store, clock, random, ttlMs: opts.refreshTtlMs });
    this.apiKeys = new ApiKeys({ store: opts.store, clock, random });
    this.lockout = opts.lockout ?? DEFAULT_LOCKOUT;
    this.clock = clock;
  }

  /** Logs in; throws AuthError bad_credentials, locked, disabled, mfa_required or mfa_invalid. */
  async login(req: LoginRequest, ctx: RequestContext = {}): Promise<TokenPair> {
    checkLoginShape(req);
    const email = normaliseEmail(req.email);
    try {
      const user = await this.checkCredentials(req, email);
      const pair = await this.issuePair(user);
      await this.recordLogin(user.tenantId, `user:${user.id}`, 'success', ctx);
      return pair;
    } catch (err) {
      if (err instanceof AuthError) await this.recordLogin(req.tenantId, email, 'failure', ctx, err.code);
      throw err;
    }
  }

  private recordLogin(tenantId: string, actor: string, outcome: string, ctx: RequestContext, reason?: string): Promise<void> {
    return this.audit.record({
      actor, tenantId, action: 'auth.login', outcome, requestId: ctx.requestId, ...(reason ? { detail: { reason } } : {}),
    });
  }

  private async checkCredentials(req: LoginRequest, email: string): Promise<UserRecord> {
    const user = await this.store.findUserByEmail(req.tenantId, email);
    if (!user) {
      await this.passwords.burn(req.password);
      throw new AuthError('bad_credentials', 'e-mail or password is wrong');
    }
    const now = this.clock();
    const locked = lockRemainingMs(user.lockedUntil, now);
    if (locked > 0) throw new AuthError('locked', 'account is locked after repeated failures', Math.ceil(locked / 1000));
    const check = await this.passwords.verify(req.password, user.passwordHash);
    if (!check.valid) await this.failure(user, new AuthError('bad_credentials', 'e-mail or password is wrong'));
    if (user.disabled) throw new AuthError('disabled', 'account is disabled');
    if (user.totpSecret !== null) await this.checkTotp(user, req.totp);
    const patch = { failedLogins: 0, lockedUntil: null, updatedAt: now, ...(check.needsRehash ? { passwordHash: await this.passwords.hash(req.password) } : {}) };
    if (user.failedLogins > 0 || check.needsRehash || user.lockedUntil !== null) await this.store.updateUser(user.tenantId, user.id, patch);
    return user;
  }

  private async checkTotp(user: UserRecord, code: string | undefined): Promise<void> {
    if (code === undefined || code === '') throw new AuthError('mfa_required', 'a TOTP code is required');
    const now = this.clock();
    const check = verifyTotp(base32Decode(user.totpSecret!), code, now, user.totpLastStep);
    if (!check.ok) await this.failure(user, new AuthError('mfa_invalid', `TOTP code is ${check.reason}`));
    else if (!(await this.store.useTotpStep(user.tenantId, user.id, check.step))) {
      await this.failure(user, new AuthError('mfa_invalid', 'TOTP code is replayed'));
    }
  }

  /** Counts a failed login (locking the account at the limit) and throws `refusal` (or 'locked'). */
  private async failure(user: UserRecord, refusal: AuthError): Promise<never> {
    const now = this.clock();
    const failures = await this.store.incrementFailedLogins(user.tenantId, user.id, now);
    const lockedUntil = lockAfterFailure(failures, now, this.lockout);
    if (lockedUntil === undefined) throw refusal;
    await this.store.updateUser(user.tenantId, user.id, { lockedUntil, failedLogins: 0, updatedAt: now });
    throw new AuthError('locked', 'account is locked after repeated failures', Math.ceil(this.lockout.lockMs / 1000));
  }

  private async issuePair(user: UserRecord): Promise<TokenPair> {
    const refresh = await this.refreshTokens.start(user.tenantId, user.id);
    return this.pairWith(user, refresh.token, refresh.expiresAt);
  }

  private async pairWith(user: UserRecord, refreshToken: string, refreshExpiresAt: number): Promise<TokenPair> {
    if (!isRole(user.role)) throw new AuthError('disabled', 'account has no valid role');
    const { token, claims } = await this.accessTokens.issue(`user:${user.id}`, user.tenantId, user.role);
    return {
      accessToken: token, expiresIn: claims.expiresAt - claims.issuedAt, refreshToken, refreshExpiresAt,
      principal: userPrincipal(user.id, user.tenantId, user.role, claims.tokenId, claims.expiresAt * 1000),
    };
  }

  /** Rotates a refresh token; throws AuthError malformed, wrong_type, revoked, expired, reuse_detected, disabled. */
  async refresh(refreshToken: string, ctx: RequestContext = {}): Promise<TokenPair> {
    let next;
    try {
      next = await this.refreshTokens.rotate(refreshToken);
    } catch (err) {
      if (err instanceof RefreshReuseError) {
        await this.audit.record({
          actor: `user:${err.family.userId}`, tenantId: err.family.tenantId, action: 'auth.refresh', target: `session:${err.family.id}`,
          outcome: 'denied', requestId: ctx.requestId, detail: { reason: err.code },
        });
      }
      throw err;
    }
    const { family } = next;
    const user = await this.store.getUser(family.tenantId, family.userId);
    if (!user || user.disabled) {
      await this.refreshTokens.revokeFamily(family.id, 'user-disabled');
      throw new AuthError('disabled', 'account is disabled or deleted');
    }
    return this.pairWith(user, next.token, next.expiresAt);
  }

  /** Ends a session: revokes the refresh family and, when given, the access token until it expires. */
  async logout(tokens: { refreshToken?: string; accessToken?: string }, ctx: RequestContext = {}): Promise<void> {
    let actor = 'unknown';
    let tenantId = '';
    if (tokens.accessToken !== undefined) {
      const claims = await this.accessTokens.verify(tokens.accessToken);
      await this.store.revokeAccessToken(claims.tokenId, claims.expiresAt * 1000);
      [actor, tenantId] = [claims.subject, claims.tenantId];
    }
    if (tokens.refreshToken !== undefined) {
      const family = await this.refreshTokens.revoke(tokens.refreshToken, 'logout');
      [actor, tenantId] = [`user:${family.userId}`, family.tenantId];
    }
    await this.audit.record({ actor, tenantId, action: 'auth.logout', outcome: 'success', requestId: ctx.requestId });
  }

  /** The principal of an access JWT; throws AuthError malformed, expired, tampered, revoked or wrong_type. */
  async verifyAccessToken(token: string): Promise<Principal> {
    const kind = credentialKind(token);
    if (kind === 'refresh' || kind === 'apikey') throw new AuthError('wrong_type', `a ${kind === 'apikey' ? 'API key' : 'refresh token'} is not an access token`);
    const claims = await this.accessTokens.verify(token);
    if (await this.store.isAccessTokenRevoked(claims.tokenId)) throw new AuthError('revoked', 'access token has been revoked');
    const [kindOf, id] = claims.subject.split(':', 2);
    if (kindOf !== 'user' || !id) throw new AuthError('malformed', 'access token subject is not a user');
    return userPrincipal(id, claims.tenantId, claims.role, claims.tokenId, claims.expiresAt * 1000);
  }

  /** The principal of an API key; throws AuthError malformed, bad_credentials, revoked or expired. */
  async verifyApiKey(key: string): Promise<Principal> {
    const record = await this.apiKeys.verify(key);
    if (!isRole(record.role)) throw new AuthError('revoked', 'API key has no valid role');
    return apiKeyPrincipal(record.id, record.tenantId, record.role, record.expiresAt);
  }

  /** The principal of an `Authorization: Bearer` credential: an access JWT or an API key. */
  authenticate(bearer: string): Promise<Principal> {
    return credentialKind(bearer) === 'apikey' ? this.verifyApiKey(bearer) : this.verifyAccessToken(bearer);
  }

  /** Revokes an access token by id until `expiresAt` (e.g. an admin ending another user's session). */
  async revokeAccessToken(actor: Principal, tokenId: string, expiresAt: number, ctx: RequestContext = {}): Promise<void> {
    requirePermission(actor, 'users:manage');
    await this.store.revokeAccessToken(tokenId, expiresAt);
    await this.audit.record({ actor: actor.subject, tenantId: actor.tenantId, action: 'auth.revoke-token', target: `jti:${tokenId}`, outcome: 'success', requestId: ctx.requestId });
  }

  /** Creates an API key in the actor's tenant; the returned `key` is shown once and never again. */
  async createApiKey(actor: Principal, spec: { name: string; role: string; expiresAt?: number | null }, ctx: RequestContext = {}): Promise<{ key: string; record: ApiKeyRecord }> {
    requirePermission(actor, 'apikeys:manage');
    const created = await this.apiKeys.create({ ...spec, tenantId: actor.tenantId, createdBy: actor.subject });
    await this.audit.record({
      actor: actor.subject, tenantId: actor.tenantId, action: 'apikeys.create', target: `apikey:${created.record.id}`,
      outcome: 'success', requestId: ctx.requestId, detail: { name: created.record.name, role: created.record.role },
    });
    return created;
  }

  async revokeApiKey(actor: Principal, id: string, ctx: RequestContext = {}): Promise<void> {
    requirePermission(actor, 'apikeys:manage');
    await this.apiKeys.revoke(actor.tenantId, id);
    await this.audit.record({ actor: actor.subject, tenantId: actor.tenantId, action: 'apikeys.revoke', target: `apikey:${id}`, outcome: 'success', requestId: ctx.requestId });
  }

  /** The actor's tenant's API keys (without hashes), by creation; a page of them when `page` is given. */
  async listApiKeys(actor: Principal, page?: KeysetPage<ApiKeyOrder>): Promise<Omit<ApiKeyRecord, 'keyHash'>[]> {
    requirePermission(actor, 'apikeys:manage');
    return (await this.apiKeys.list(actor.tenantId, page)).map(({ keyHash: _hash, ...rest }) => rest);
  }
}
