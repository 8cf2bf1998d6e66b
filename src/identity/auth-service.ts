// AuthService: the façade the API calls for authentication. Login (password, TOTP, lockout, rehash on parameter
// change) → access JWT + refresh token; refresh with rotation and reuse detection; logout; verification of
// access tokens and API keys into a Principal, checked against the store at every call (a disabled or deleted
// user, or the disabled or deleted owner of an API key, is refused at once; the user's current role applies);
// API-key management. Every login success and failure and every privileged change is recorded through the
// AuditSink (the ledger) before it takes effect (src/identity/audited.ts): a ledger that cannot record leaves
// nothing changed. Time and randomness injected. Secrets are never logged or recorded.

import type { AuditRecord, AuditSink } from '../ledger/sink.ts';
import type { ApiKeyOrder, ApiKeyRecord, IdentityStore, RefreshFamilyRecord, UserRecord } from './store.ts';
import type { KeysetPage } from '../util/keyset.ts';
import { AccessTokens, type AccessClaims } from './access-token.ts';
import { ApiKeys } from './api-key.ts';
import { recordThenApply } from './audited.ts';
import { systemClock, systemRandom, type Clock, type Random } from './clock.ts';
import { SecretChecks } from './credentials.ts';
import { AuthError } from './errors.ts';
import { DEFAULT_LOCKOUT, type LockoutPolicy } from './lockout.ts';
import { PasswordHasher } from './password.ts';
import { hasPermission, isRole, permissionsOf } from './permissions.ts';
import { apiKeyPrincipal, requirePermission, userPrincipal, type Principal } from './principal.ts';
import { RefreshReuseError, RefreshTokens } from './refresh-token.ts';
import { credentialKind } from './secrets.ts';
import { checkTenantId, isWellFormed } from './validate.ts';

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
/** How far `apikey:` creators are followed (keys made with keys, recorded before owners were). */
const MAX_OWNER_HOPS = 8;

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
  if (!isWellFormed(r.email) || (r.totp !== undefined && !isWellFormed(r.totp))) {
    throw new AuthError('invalid_request', 'login fields must be well-formed Unicode (no lone surrogates)');
  }
  checkTenantId(r.tenantId);
}

function loginRecord(tenantId: string, actor: string, outcome: string, ctx: RequestContext, reason?: string): AuditRecord {
  return { actor, tenantId, action: 'auth.login', outcome, requestId: ctx.requestId, ...(reason ? { detail: { reason } } : {}) };
}

export class AuthService {
  readonly store: IdentityStore;
  readonly audit: AuditSink;
  readonly accessTokens: AccessTokens;
  readonly passwords: PasswordHasher;
  readonly refreshTokens: RefreshTokens;
  readonly apiKeys: ApiKeys;
  private readonly checks: SecretChecks;

  constructor(opts: AuthServiceOptions) {
    const clock = opts.clock ?? systemClock;
    const random = opts.random ?? systemRandom;
    this.store = opts.store;
    this.audit = opts.audit;
    this.accessTokens = opts.accessTokens;
    this.passwords = opts.passwords ?? new PasswordHasher({ random });
    this.refreshTokens = new RefreshTokens({ store: opts.store, clock, random, ttlMs: opts.refreshTtlMs });
    this.apiKeys = new ApiKeys({ store: opts.store, clock, random });
    this.checks = new SecretChecks({ store: opts.store, passwords: this.passwords, lockout: opts.lockout ?? DEFAULT_LOCKOUT, clock });
  }

  /** Logs in; throws AuthError bad_credentials, locked, disabled, mfa_required, mfa_invalid or invalid_request. */
  async login(req: LoginRequest, ctx: RequestContext = {}): Promise<TokenPair> {
    checkLoginShape(req);
    const email = normaliseEmail(req.email);
    let user: UserRecord;
    try {
      user = await this.checkCredentials(req, email);
    } catch (err) {
      if (err instanceof AuthError) await this.audit.record(loginRecord(req.tenantId, email, 'failure', ctx, err.code));
      throw err;
    }
    return recordThenApply(this.audit, loginRecord(user.tenantId, `user:${user.id}`, 'success', ctx), () => this.issuePair(user));
  }

  private async checkCredentials(req: LoginRequest, email: string): Promise<UserRecord> {
    const user = await this.store.findUserByEmail(req.tenantId, email);
    if (!user) {
      await this.passwords.burn(req.password);
      throw new AuthError('bad_credentials', 'e-mail or password is wrong');
    }
    this.checks.refuseLocked(user);
    const { needsRehash } = await this.checks.password(user, req.password);
    if (user.disabled) throw new AuthError('disabled', 'account is disabled');
    await this.checks.totp(user, req.totp);
    await this.checks.succeeded(user, needsRehash ? await this.passwords.hash(req.password) : undefined);
    return user;
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

  /**
   * Ends the caller's session: revokes their access token (until it expires) and the refresh family of
   * `refreshToken` when it is theirs. Another principal's token (or an unknown one) is left alone: the call
   * still succeeds (no oracle) and the ledger records the caller, with outcome `denied` for another's token.
   */
  async logout(actor: Principal, tokens: { refreshToken?: string; accessToken?: string }, ctx: RequestContext = {}): Promise<void> {
    const mine = (tenantId: string, subject: string) => actor.kind === 'user' && tenantId === actor.tenantId && subject === actor.subject;
    let access: AccessClaims | undefined;
    if (tokens.accessToken !== undefined) {
      const claims = await this.accessTokens.verify(tokens.accessToken);
      if (mine(claims.tenantId, claims.subject)) access = claims;
    }
    let refresh = 'absent';
    let family: RefreshFamilyRecord | undefined;
    if (tokens.refreshToken !== undefined) {
      const found = await this.refreshTokens.familyOf(tokens.refreshToken);
      if (!found) refresh = 'unknown';
      else if (mine(found.tenantId, `user:${found.userId}`)) [family, refresh] = [found, 'revoked'];
      else refresh = 'not_own';
    }
    await recordThenApply(this.audit, {
      actor: actor.subject, tenantId: actor.tenantId, action: 'auth.logout', outcome: refresh === 'not_own' ? 'denied' : 'success',
      requestId: ctx.requestId, ...(family ? { target: `session:${family.id}` } : {}),
      detail: { access_token: access ? 'revoked' : 'absent', refresh_token: refresh },
    }, async () => {
      if (access) await this.store.revokeAccessToken(access.tokenId, access.expiresAt * 1000);
      if (family) await this.refreshTokens.revokeFamily(family.id, 'logout');
    });
  }

  /**
   * The principal of an access JWT, as the store says now: the user must still exist and be enabled, and their
   * current role applies (a downgrade takes effect at the next call). Throws AuthError malformed, expired,
   * tampered, revoked (also: the user was deleted), disabled or wrong_type.
   */
  async verifyAccessToken(token: string): Promise<Principal> {
    const kind = credentialKind(token);
    if (kind === 'refresh' || kind === 'apikey') throw new AuthError('wrong_type', `a ${kind === 'apikey' ? 'API key' : 'refresh token'} is not an access token`);
    const claims = await this.accessTokens.verify(token);
    if (await this.store.isAccessTokenRevoked(claims.tokenId)) throw new AuthError('revoked', 'access token has been revoked');
    const [kindOf, id] = claims.subject.split(':', 2);
    if (kindOf !== 'user' || !id) throw new AuthError('malformed', 'access token subject is not a user');
    const user = await this.store.getUser(claims.tenantId, id);
    if (!user) throw new AuthError('revoked', 'the user of this access token no longer exists');
    if (user.disabled) throw new AuthError('disabled', 'account is disabled');
    if (!isRole(user.role)) throw new AuthError('disabled', 'account has no valid role');
    return userPrincipal(id, claims.tenantId, user.role, claims.tokenId, claims.expiresAt * 1000);
  }

  /**
   * The principal of an API key; its owner (the user who created it) must still exist, be enabled and hold every
   * permission of the key's role. Throws AuthError malformed, bad_credentials, revoked, expired or disabled.
   */
  async verifyApiKey(key: string): Promise<Principal> {
    const record = await this.apiKeys.verify(key);
    if (!isRole(record.role)) throw new AuthError('revoked', 'API key has no valid role');
    const owner = await this.activeOwner(record.tenantId, record.role, record.createdBy);
    return apiKeyPrincipal(record.id, record.tenantId, record.role, record.expiresAt, owner);
  }

  /** The owner of a key made by `createdBy`, checked: a user must be enabled and hold `role`'s permissions. */
  private async activeOwner(tenantId: string, role: string, createdBy: string, hops = 0): Promise<string> {
    if (createdBy.startsWith('user:')) {
      const user = await this.store.getUser(tenantId, createdBy.slice('user:'.length));
      if (!user || user.disabled) throw new AuthError('disabled', 'the user who created this API key is disabled or deleted');
      if (!permissionsOf(role).every((p) => hasPermission(user.role, p))) {
        throw new AuthError('revoked', `the user who created this API key no longer holds its role (${role})`);
      }
      return createdBy;
    }
    if (createdBy.startsWith('apikey:')) {
      const parent = await this.store.getApiKey(createdBy.slice('apikey:'.length));
      if (parent && parent.tenantId === tenantId && hops < MAX_OWNER_HOPS) return this.activeOwner(tenantId, role, parent.createdBy, hops + 1);
    }
    return createdBy; // `system` (the bootstrap key) or an unresolvable creator: no person to check
  }

  /**
   * The person accountable for `subject` (an actor as the ledger names it) in `tenantId`: a user is themself, an
   * API key is whoever created it (followed through keys made with keys); anything else is itself.
   */
  async ownerOf(tenantId: string, subject: string): Promise<string> {
    let current = subject;
    for (let hops = 0; hops <= MAX_OWNER_HOPS && current.startsWith('apikey:'); hops++) {
      const key = await this.store.getApiKey(current.slice('apikey:'.length));
      if (!key || key.tenantId !== tenantId) break;
      current = key.createdBy;
    }
    return current;
  }

  /** The principal of an `Authorization: Bearer` credential: an access JWT or an API key. */
  authenticate(bearer: string): Promise<Principal> {
    return credentialKind(bearer) === 'apikey' ? this.verifyApiKey(bearer) : this.verifyAccessToken(bearer);
  }

  /** Revokes an access token by id until `expiresAt` (e.g. an admin ending another user's session). */
  async revokeAccessToken(actor: Principal, tokenId: string, expiresAt: number, ctx: RequestContext = {}): Promise<void> {
    requirePermission(actor, 'users:manage');
    await recordThenApply(this.audit, {
      actor: actor.subject, tenantId: actor.tenantId, action: 'auth.revoke-token', target: `jti:${tokenId}`, outcome: 'success', requestId: ctx.requestId,
    }, () => this.store.revokeAccessToken(tokenId, expiresAt));
  }

  /**
   * Creates an API key in the actor's tenant; the returned `key` is shown once and never again. The key's owner
   * (`createdBy`) is the actor's owner: the user, or for an actor that is itself a key, that key's owner.
   */
  async createApiKey(actor: Principal, spec: { name: string; role: string; expiresAt?: number | null }, ctx: RequestContext = {}): Promise<{ key: string; record: ApiKeyRecord }> {
    requirePermission(actor, 'apikeys:manage');
    const created = this.apiKeys.prepare({ ...spec, tenantId: actor.tenantId, createdBy: actor.owner ?? actor.subject });
    const r = created.record;
    await recordThenApply(this.audit, {
      actor: actor.subject, tenantId: actor.tenantId, action: 'apikeys.create', target: `apikey:${r.id}`,
      outcome: 'success', requestId: ctx.requestId, detail: { name: r.name, role: r.role, owner: r.createdBy },
    }, () => this.apiKeys.save(r));
    return created;
  }

  async revokeApiKey(actor: Principal, id: string, ctx: RequestContext = {}): Promise<void> {
    requirePermission(actor, 'apikeys:manage');
    const key = await this.store.getApiKey(id);
    if (!key || key.tenantId !== actor.tenantId || key.revokedAt !== null) throw new AuthError('not_found', 'no such live API key in this tenant');
    await recordThenApply(this.audit, {
      actor: actor.subject, tenantId: actor.tenantId, action: 'apikeys.revoke', target: `apikey:${id}`, outcome: 'success', requestId: ctx.requestId,
    }, () => this.apiKeys.revoke(actor.tenantId, id));
  }

  /** The actor's tenant's API keys (without hashes), by creation; a page of them when `page` is given. */
  async listApiKeys(actor: Principal, page?: KeysetPage<ApiKeyOrder>): Promise<Omit<ApiKeyRecord, 'keyHash'>[]> {
    requirePermission(actor, 'apikeys:manage');
    return (await this.apiKeys.list(actor.tenantId, page)).map(({ keyHash: _hash, ...rest }) => rest);
  }
}
