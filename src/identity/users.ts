// UserDirectory: managing the users of a tenant (create, role, disable, password, TOTP enrolment, unlock,
// delete), each change authorised by permission, confined to the actor's tenant (another tenant's user is
// 'not_found', never 'forbidden'; only the super-admin names a tenant) and recorded in the audit ledger.
// Changing a password or disabling a user ends their sessions.

import type { AuditSink } from '../ledger/sink.ts';
import type { IdentityStore, UserPatch, UserRecord } from '../stores/identity/types.ts';
import type { KeysetPage } from '../stores/keyset.ts';
import { IdentityConflictError } from '../stores/identity/types.ts';
import { randomId, systemClock, systemRandom, type Clock, type Random } from './clock.ts';
import { AuthError } from './errors.ts';
import { normaliseEmail, type RequestContext } from './auth-service.ts';
import { PasswordHasher } from './password.ts';
import { isTenantRole, PLATFORM_TENANT, SUPER_ADMIN } from './permissions.ts';
import { requirePermission, type Principal } from './principal.ts';
import { RefreshTokens } from './refresh-token.ts';
import { base32Decode, generateTotpSecret, otpauthUri, verifyTotp } from './totp.ts';

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
}

export interface UserDirectoryOptions {
  store: IdentityStore;
  audit: AuditSink;
  passwords?: PasswordHasher;
  clock?: Clock;
  random?: Random;
  /** Issuer shown by authenticator apps (default "Vigil"). */
  totpIssuer?: string;
}

export class UserDirectory {
  private readonly store: IdentityStore;
  private readonly audit: AuditSink;
  private readonly passwords: PasswordHasher;
  private readonly sessions: RefreshTokens;
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
    this.totpIssuer = opts.totpIssuer ?? 'Vigil';
  }

  /** The tenant an action applies to: the actor's own, or one the super-admin names. */
  private tenantFor(actor: Principal, tenantId?: string): string {
    if (tenantId === undefined || tenantId === actor.tenantId) return actor.tenantId;
    if (actor.role !== SUPER_ADMIN) throw new AuthError('not_found', 'no such tenant');
    return tenantId;
  }

  private async existing(tenantId: string, userId: string): Promise<UserRecord> {
    const user = await this.store.getUser(tenantId, userId);
    if (!user) throw new AuthError('not_found', 'no such user');
    return user;
  }

  private record(actor: Principal | string, tenantId: string, action: string, target: string, ctx: RequestContext, detail?: Record<string, string | boolean>): Promise<void> {
    const who = typeof actor === 'string' ? actor : actor.subject;
    return this.audit.record({ actor: who, tenantId, action, target, outcome: 'success', requestId: ctx.requestId, ...(detail ? { detail } : {}) });
  }

  private async insert(spec: { tenantId: string; email: string; password: string; role: string }): Promise<UserRecord> {
    const email = normaliseEmail(String(spec.email ?? ''));
    if (!EMAIL.test(email)) throw new AuthError('invalid_request', 'e-mail address is not valid');
    checkPassword(spec.password);
    const now = this.clock();
    const user: UserRecord = {
      id: randomId(this.random), tenantId: spec.tenantId, email, passwordHash: await this.passwords.hash(spec.password),
      role: spec.role, totpSecret: null, totpLastStep: null, failedLogins: 0, lockedUntil: null, disabled: false,
      createdAt: now, updatedAt: now,
    };
    try {
      await this.store.createUser(user);
    } catch (err) {
      if (err instanceof IdentityConflictError) throw new AuthError('conflict', 'a user with this e-mail exists in the tenant');
      throw err;
    }
    return user;
  }

  /** First-run setup (CLI): a super-admin in the platform tenant, recorded as done by `system`. */
  async bootstrapSuperAdmin(email: string, password: string, ctx: RequestContext = {}): Promise<UserView> {
    const user = await this.insert({ tenantId: PLATFORM_TENANT, email, password, role: SUPER_ADMIN });
    await this.record('system', PLATFORM_TENANT, 'users.create', `user:${user.id}`, ctx, { role: SUPER_ADMIN });
    return userView(user);
  }

  /** Creates a user with a tenant role (in the actor's tenant; the super-admin may name one). */
  async create(actor: Principal, spec: { email: string; password: string; role: string; tenantId?: string }, ctx: RequestContext = {}): Promise<UserView> {
    requirePermission(actor, 'users:manage');
    const tenantId = this.tenantFor(actor, spec.tenantId);
    if (tenantId === PLATFORM_TENANT || !isTenantRole(spec.role)) {
      throw new AuthError('invalid_request', 'users get a tenant role (admin, analyst, responder, viewer) in a customer tenant');
    }
    const user = await this.insert({ ...spec, tenantId });
    await this.record(actor, tenantId, 'users.create', `user:${user.id}`, ctx, { role: spec.role });
    return userView(user);
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

  /** Applies an administrative patch and records it. */
  private async change(actor: Principal, userId: string, tenantId: string | undefined, action: string, patch: UserPatch, ctx: RequestContext, detail?: Record<string, string | boolean>): Promise<UserRecord> {
    requirePermission(actor, 'users:manage');
    const tenant = this.tenantFor(actor, tenantId);
    const user = await this.existing(tenant, userId);
    await this.store.updateUser(tenant, userId, { ...patch, updatedAt: this.clock() });
    await this.record(actor, tenant, action, `user:${userId}`, ctx, detail);
    return user;
  }

  async setRole(actor: Principal, userId: string, role: string, ctx: RequestContext = {}, tenantId?: string): Promise<void> {
    if (!isTenantRole(role)) throw new AuthError('invalid_request', `${JSON.stringify(role)} is not a tenant role`);
    if (userId === actor.userId) throw new AuthError('forbidden', 'users cannot change their own role');
    await this.change(actor, userId, tenantId, 'users.set-role', { role }, ctx, { role });
  }

  /** Disables (ending every session) or re-enables a user. */
  async setDisabled(actor: Principal, userId: string, disabled: boolean, ctx: RequestContext = {}, tenantId?: string): Promise<void> {
    if (userId === actor.userId) throw new AuthError('forbidden', 'users cannot disable themselves');
    const user = await this.change(actor, userId, tenantId, disabled ? 'users.disable' : 'users.enable', { disabled }, ctx);
    if (disabled) await this.sessions.revokeAllOf(user.tenantId, userId, 'user-disabled');
  }

  async unlock(actor: Principal, userId: string, ctx: RequestContext = {}, tenantId?: string): Promise<void> {
    await this.change(actor, userId, tenantId, 'users.unlock', { lockedUntil: null, failedLogins: 0 }, ctx);
  }

  /** An administrator sets a new password (ending the user's sessions). */
  async resetPassword(actor: Principal, userId: string, password: string, ctx: RequestContext = {}, tenantId?: string): Promise<void> {
    checkPassword(password);
    const passwordHash = await this.passwords.hash(password);
    const user = await this.change(actor, userId, tenantId, 'users.reset-password', { passwordHash }, ctx);
    await this.sessions.revokeAllOf(user.tenantId, userId, 'password-changed');
  }

  /** A user changes their own password, proving the current one; their other sessions end. */
  async changeOwnPassword(actor: Principal, current: string, next: string, ctx: RequestContext = {}): Promise<void> {
    checkPassword(next);
    const user = await this.self(actor);
    if (!(await this.passwords.verify(String(current), user.passwordHash)).valid) throw new AuthError('bad_credentials', 'current password is wrong');
    await this.store.updateUser(user.tenantId, user.id, { passwordHash: await this.passwords.hash(next), updatedAt: this.clock() });
    await this.sessions.revokeAllOf(user.tenantId, user.id, 'password-changed');
    await this.record(actor, user.tenantId, 'users.change-password', actor.subject, ctx);
  }

  private async self(actor: Principal): Promise<UserRecord> {
    if (actor.kind !== 'user' || !actor.userId) throw new AuthError('forbidden', 'only users have passwords and MFA');
    return this.existing(actor.tenantId, actor.userId);
  }

  /** Step 1 of MFA enrolment: a new secret and its otpauth URI (nothing stored until confirmed). */
  async beginTotpEnrolment(actor: Principal): Promise<{ secret: string; uri: string }> {
    const user = await this.self(actor);
    const secret = generateTotpSecret(this.random);
    return { secret, uri: otpauthUri(this.totpIssuer, user.email, secret) };
  }

  /** Step 2: a code from the authenticator proves it holds `secret`; MFA is on from now. */
  async confirmTotpEnrolment(actor: Principal, secret: string, code: string, ctx: RequestContext = {}): Promise<void> {
    const user = await this.self(actor);
    const check = verifyTotp(base32Decode(String(secret)), String(code), this.clock(), null);
    if (!check.ok) throw new AuthError('mfa_invalid', `TOTP code is ${check.reason}`);
    await this.store.updateUser(user.tenantId, user.id, { totpSecret: secret, totpLastStep: check.step, updatedAt: this.clock() });
    await this.record(actor, user.tenantId, 'users.mfa-enrol', actor.subject, ctx);
  }

  /** An administrator removes a user's MFA (lost device). */
  async removeTotp(actor: Principal, userId: string, ctx: RequestContext = {}, tenantId?: string): Promise<void> {
    await this.change(actor, userId, tenantId, 'users.mfa-remove', { totpSecret: null, totpLastStep: null }, ctx);
  }

  async delete(actor: Principal, userId: string, ctx: RequestContext = {}, tenantId?: string): Promise<void> {
    requirePermission(actor, 'users:manage');
    if (userId === actor.userId) throw new AuthError('forbidden', 'users cannot delete themselves');
    const tenant = this.tenantFor(actor, tenantId);
    await this.sessions.revokeAllOf(tenant, userId, 'user-deleted');
    if (!(await this.store.deleteUser(tenant, userId))) throw new AuthError('not_found', 'no such user');
    await this.record(actor, tenant, 'users.delete', `user:${userId}`, ctx);
  }
}
