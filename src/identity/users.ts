// UserDirectory: managing the users of a tenant (create, role, disable, password, TOTP enrolment, unlock,
// delete), each change authorised by permission, confined to the actor's tenant (another tenant's user is
// 'not_found', never 'forbidden'; only the super-admin names a tenant, in the tenant-id format) and recorded in
// the audit ledger before it takes effect (src/identity/audited.ts). Credential changes (own password, TOTP
// enrolment or re-enrolment, an administrator's password reset or MFA removal) need the acting user to
// re-authenticate: current password, plus the current TOTP code when MFA is on (failures count towards the
// lockout). Changing a password or disabling a user ends their sessions.

import type { AuditRecord, AuditSink } from '../ledger/sink.ts';
import type { IdentityStore, UserPatch, UserRecord } from './store.ts';
import type { KeysetPage } from '../util/keyset.ts';
import { IdentityConflictError } from './store.ts';
import { recordThenApply } from './audited.ts';
import { randomId, systemClock, systemRandom, type Clock, type Random } from './clock.ts';
import { SecretChecks } from './credentials.ts';
import { AuthError } from './errors.ts';
import { normaliseEmail, type RequestContext } from './auth-service.ts';
import { DEFAULT_LOCKOUT, type LockoutPolicy } from './lockout.ts';
import { PasswordHasher } from './password.ts';
import { isTenantRole, PLATFORM_TENANT, SUPER_ADMIN } from './permissions.ts';
import { requirePermission, type Principal } from './principal.ts';
import { RefreshTokens } from './refresh-token.ts';
import { base32Decode, generateTotpSecret, otpauthUri, TotpError, verifyTotp } from './totp.ts';
import { checkTenantId, isWellFormed } from './validate.ts';

/** What the acting user gives to prove it is them before a credential change. */
export interface Reauthentication {
  /** Their current password. */
  password?: string;
  /** Their current TOTP code, when they have MFA. */
  totp?: string;
}

/** A user as the API shows it: no password hash, no TOTP secret. */
export type UserView = Omit<UserRecord, 'passwordHash' | 'totpSecret' | 'totpLastStep'> & { mfaEnrolled: boolean };

export const PASSWORD_MIN = 12;
export const PASSWORD_MAX = 1024;
const EMAIL = /^[^@\s]{1,64}@[^@\s]{1,253}$/;

export function userView(u: UserRecord): UserView {
  const { passwordHash: _p, totpSecret, totpLastStep: _s, ...rest } = u;
  return { ...rest, mfaEnrolled: totpSecret !== null };
}

export function checkPassword(password: unknown): asserts password is string {
  if (typeof password !== 'string' || password.length < PASSWORD_MIN || password.length > PASSWORD_MAX) {
    throw new AuthError('invalid_request', `password must be ${PASSWORD_MIN}..${PASSWORD_MAX} characters`);
  }
  if (!isWellFormed(password)) throw new AuthError('invalid_request', 'password is not well-formed Unicode (lone surrogate)');
}

/** The normalised e-mail of a new user; throws AuthError invalid_request when it is not a plausible address. */
export function checkEmail(email: unknown): string {
  const normalised = normaliseEmail(String(email ?? ''));
  if (!EMAIL.test(normalised) || !isWellFormed(normalised)) throw new AuthError('invalid_request', 'e-mail address is not valid');
  return normalised;
}

export interface UserDirectoryOptions {
  store: IdentityStore;
  audit: AuditSink;
  passwords?: PasswordHasher;
  clock?: Clock;
  random?: Random;
  /** Issuer shown by authenticator apps (default "Vigil"). */
  totpIssuer?: string;
  /** Lockout of re-authentication failures (the same policy as login's; default 5 failures → 15 minutes). */
  lockout?: LockoutPolicy;
}

/** Whether `actor` is user `userId` acting in person or through an API key they created. */
function actsAs(actor: Principal, userId: string): boolean {
  return actor.userId === userId || actor.owner === `user:${userId}`;
}

export class UserDirectory {
  private readonly store: IdentityStore;
  private readonly audit: AuditSink;
  private readonly passwords: PasswordHasher;
  private readonly sessions: RefreshTokens;
  private readonly checks: SecretChecks;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly totpIssuer: string;

  constructor(opts: UserDirectoryOptions) {
    this.store = opts.store;
    this.audit = opts.audit;
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? systemRandom;
    this.passwords = opts.passwords ?? new PasswordHasher({ random: this.random });
    this.sessions = new RefreshTokens({ store: opts.store, clock: this.clock, random: this.random });
    this.checks = new SecretChecks({ store: opts.store, passwords: this.passwords, lockout: opts.lockout ?? DEFAULT_LOCKOUT, clock: this.clock });
    this.totpIssuer = opts.totpIssuer ?? 'Vigil';
  }

  /** The tenant an action applies to: the actor's own, or one the super-admin names (in the tenant-id format). */
  private tenantFor(actor: Principal, tenantId?: string): string {
    if (tenantId === undefined || tenantId === actor.tenantId) return actor.tenantId;
    checkTenantId(tenantId);
    if (actor.role !== SUPER_ADMIN) throw new AuthError('not_found', 'no such tenant');
    return tenantId;
  }

  private async existing(tenantId: string, userId: string): Promise<UserRecord> {
    const user = await this.store.getUser(tenantId, userId);
    if (!user) throw new AuthError('not_found', 'no such user');
    return user;
  }

  private entry(actor: Principal | string, tenantId: string, action: string, target: string, ctx: RequestContext, detail?: Record<string, string | boolean>): AuditRecord {
    const who = typeof actor === 'string' ? actor : actor.subject;
    return { actor: who, tenantId, action, target, outcome: 'success', requestId: ctx.requestId, ...(detail ? { detail } : {}) };
  }

  /** Checks a new user's e-mail and password (nothing stored): what `create` would refuse as invalid_request. */
  checkNewUser(spec: { email: string; password: string }): void {
    checkEmail(spec.email);
    checkPassword(spec.password);
  }

  /** Validates, refuses a taken e-mail, records `users.create`, then inserts. */
  private async insert(actor: Principal | string, spec: { tenantId: string; email: string; password: string; role: string }, ctx: RequestContext): Promise<UserRecord> {
    const email = checkEmail(spec.email);
    checkPassword(spec.password);
    if (await this.store.findUserByEmail(spec.tenantId, email)) throw new AuthError('conflict', 'a user with this e-mail exists in the tenant');
    const now = this.clock();
    const user: UserRecord = {
      id: randomId(this.random), tenantId: spec.tenantId, email, passwordHash: await this.passwords.hash(spec.password),
      role: spec.role, totpSecret: null, totpLastStep: null, failedLogins: 0, lockedUntil: null, disabled: false,
      createdAt: now, updatedAt: now,
    };
    await recordThenApply(this.audit, this.entry(actor, spec.tenantId, 'users.create', `user:${user.id}`, ctx, { role: spec.role }), async () => {
      try {
        await this.store.createUser(user);
      } catch (err) {
        if (err instanceof IdentityConflictError) throw new AuthError('conflict', 'a user with this e-mail exists in the tenant');
        throw err;
      }
    });
    return user;
  }

  /** First-run setup (CLI): a super-admin in the platform tenant, recorded as done by `system`. */
  async bootstrapSuperAdmin(email: string, password: string, ctx: RequestContext = {}): Promise<UserView> {
    return userView(await this.insert('system', { tenantId: PLATFORM_TENANT, email, password, role: SUPER_ADMIN }, ctx));
  }

  /**
   * Creates a user with a tenant role (in the actor's tenant; the super-admin may name one). That the named
   * tenant exists is the caller's to check (tenants live in the metadata store): the API does.
   */
  async create(actor: Principal, spec: { email: string; password: string; role: string; tenantId?: string }, ctx: RequestContext = {}): Promise<UserView> {
    requirePermission(actor, 'users:manage');
    const tenantId = this.tenantFor(actor, spec.tenantId);
    if (tenantId === PLATFORM_TENANT || !isTenantRole(spec.role)) {
      throw new AuthError('invalid_request', 'users get a tenant role (admin, analyst, responder, viewer) in a customer tenant');
    }
    return userView(await this.insert(actor, { ...spec, tenantId }, ctx));
  }

  /** The tenant's users by e-mail (a page after an e-mail when `page` is given). */
  async list(actor: Principal, tenantId?: string, page?: KeysetPage<string>): Promise<UserView[]> {
    requirePermission(actor, 'users:read');
    return (await this.store.listUsers(this.tenantFor(actor, tenantId), page)).map(userView);
  }

  async get(actor: Principal, userId: string, tenantId?: string): Promise<UserView> {
    requirePermission(actor, 'users:read');
    return userView(await this.existing(this.tenantFor(actor, tenantId), userId));
  }

  /** Applies an administrative patch (recorded first) and then `after` (e.g. ending sessions). */
  private async change(actor: Principal, userId: string, tenantId: string | undefined, action: string, patch: UserPatch, ctx: RequestContext,
    detail?: Record<string, string | boolean>, after?: (user: UserRecord) => Promise<unknown>): Promise<UserRecord> {
    requirePermission(actor, 'users:manage');
    const tenant = this.tenantFor(actor, tenantId);
    const user = await this.existing(tenant, userId);
    await recordThenApply(this.audit, this.entry(actor, tenant, action, `user:${userId}`, ctx, detail), async () => {
      if (!(await this.store.updateUser(tenant, userId, { ...patch, updatedAt: this.clock() }))) throw new AuthError('not_found', 'no such user');
      await after?.(user);
    });
    return user;
  }

  async setRole(actor: Principal, userId: string, role: string, ctx: RequestContext = {}, tenantId?: string): Promise<void> {
    if (!isTenantRole(role)) throw new AuthError('invalid_request', `${JSON.stringify(role)} is not a tenant role`);
    if (actsAs(actor, userId)) throw new AuthError('forbidden', 'users cannot change their own role (nor with their own API key)');
    await this.change(actor, userId, tenantId, 'users.set-role', { role }, ctx, { role });
  }

  /** Disables (ending every session) or re-enables a user. */
  async setDisabled(actor: Principal, userId: string, disabled: boolean, ctx: RequestContext = {}, tenantId?: string): Promise<void> {
    if (actsAs(actor, userId)) throw new AuthError('forbidden', 'users cannot disable themselves (nor with their own API key)');
    await this.change(actor, userId, tenantId, disabled ? 'users.disable' : 'users.enable', { disabled }, ctx, undefined,
      disabled ? (user) => this.sessions.revokeAllOf(user.tenantId, userId, 'user-disabled') : undefined);
  }

  async unlock(actor: Principal, userId: string, ctx: RequestContext = {}, tenantId?: string): Promise<void> {
    await this.change(actor, userId, tenantId, 'users.unlock', { lockedUntil: null, failedLogins: 0 }, ctx);
  }

  /**
   * The acting user proves it is them again: current password, and the current TOTP code when they have MFA
   * (a code is used once). Failures count towards the lockout; API keys cannot re-authenticate (forbidden).
   */
  private async reauthenticate(actor: Principal, proof: Reauthentication | undefined): Promise<UserRecord> {
    const user = await this.self(actor);
    this.checks.refuseLocked(user);
    const password = proof?.password;
    if (typeof password !== 'string' || password === '') {
      throw new AuthError('reauth_required', 'this change needs your current password (and your current TOTP code when MFA is on)');
    }
    await this.checks.password(user, password);
    await this.checks.totp(user, proof?.totp === undefined ? undefined : String(proof.totp));
    await this.checks.succeeded(user, undefined);
    return user;
  }

  /** An administrator, re-authenticating, sets a new password (ending the user's sessions). */
  async resetPassword(actor: Principal, userId: string, password: string, proof: Reauthentication, ctx: RequestContext = {}, tenantId?: string): Promise<void> {
    checkPassword(password);
    requirePermission(actor, 'users:manage');
    await this.reauthenticate(actor, proof);
    const passwordHash = await this.passwords.hash(password);
    await this.change(actor, userId, tenantId, 'users.reset-password', { passwordHash }, ctx, undefined,
      (user) => this.sessions.revokeAllOf(user.tenantId, userId, 'password-changed'));
  }

  /** A user changes their own password, re-authenticating (password, and TOTP code with MFA); their sessions end. */
  async changeOwnPassword(actor: Principal, proof: Reauthentication, next: string, ctx: RequestContext = {}): Promise<void> {
    checkPassword(next);
    const user = await this.reauthenticate(actor, proof);
    const passwordHash = await this.passwords.hash(next);
    await recordThenApply(this.audit, this.entry(actor, user.tenantId, 'users.change-password', actor.subject, ctx), async () => {
      await this.store.updateUser(user.tenantId, user.id, { passwordHash, updatedAt: this.clock() });
      await this.sessions.revokeAllOf(user.tenantId, user.id, 'password-changed');
    });
  }

  private async self(actor: Principal): Promise<UserRecord> {
    if (actor.kind !== 'user' || !actor.userId) throw new AuthError('forbidden', 'only users have passwords and MFA (an API key cannot re-authenticate)');
    return this.existing(actor.tenantId, actor.userId);
  }

  /** Step 1 of MFA enrolment: a new secret and its otpauth URI (nothing stored until confirmed). */
  async beginTotpEnrolment(actor: Principal): Promise<{ secret: string; uri: string }> {
    const user = await this.self(actor);
    const secret = generateTotpSecret(this.random);
    return { secret, uri: otpauthUri(this.totpIssuer, user.email, secret) };
  }

  /**
   * Step 2: a code from the new authenticator proves it holds `secret`, and the user re-authenticates (current
   * password; and the current TOTP code when replacing an enrolled authenticator). MFA uses `secret` from now.
   */
  async confirmTotpEnrolment(actor: Principal, proof: Reauthentication, secret: string, code: string, ctx: RequestContext = {}): Promise<void> {
    await this.self(actor);
    let check;
    try {
      check = verifyTotp(base32Decode(String(secret)), String(code), this.clock(), null);
    } catch (err) {
      if (err instanceof TotpError) throw new AuthError('invalid_request', err.message);
      throw err;
    }
    if (!check.ok) throw new AuthError('mfa_invalid', `TOTP code is ${check.reason}`);
    const user = await this.reauthenticate(actor, proof);
    const step = check.step;
    await recordThenApply(this.audit, this.entry(actor, user.tenantId, 'users.mfa-enrol', actor.subject, ctx, { replaced: user.totpSecret !== null }),
      () => this.store.updateUser(user.tenantId, user.id, { totpSecret: secret, totpLastStep: step, updatedAt: this.clock() }));
  }

  /** An administrator, re-authenticating, removes a user's MFA (lost device). */
  async removeTotp(actor: Principal, userId: string, proof: Reauthentication, ctx: RequestContext = {}, tenantId?: string): Promise<void> {
    requirePermission(actor, 'users:manage');
    await this.reauthenticate(actor, proof);
    await this.change(actor, userId, tenantId, 'users.mfa-remove', { totpSecret: null, totpLastStep: null }, ctx);
  }

  async delete(actor: Principal, userId: string, ctx: RequestContext = {}, tenantId?: string): Promise<void> {
    requirePermission(actor, 'users:manage');
    if (actsAs(actor, userId)) throw new AuthError('forbidden', 'users cannot delete themselves (nor with their own API key)');
    const tenant = this.tenantFor(actor, tenantId);
    await this.existing(tenant, userId);
    await recordThenApply(this.audit, this.entry(actor, tenant, 'users.delete', `user:${userId}`, ctx), async () => {
      await this.sessions.revokeAllOf(tenant, userId, 'user-deleted');
      if (!(await this.store.deleteUser(tenant, userId))) throw new AuthError('not_found', 'no such user');
    });
  }
}
