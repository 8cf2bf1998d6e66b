// Checking a user's secrets (password, TOTP code) with the lockout policy, shared by login (AuthService) and
// re-authentication before credential changes (UserDirectory): every wrong password or code counts towards the
// lock, a locked account is refused, a TOTP step is used once (atomically), success resets the counter and
// upgrades a password hash made with older parameters.

import type { IdentityStore, UserRecord } from './store.ts';
import type { Clock } from './clock.ts';
import { AuthError } from './errors.ts';
import { lockAfterFailure, lockRemainingMs, type LockoutPolicy } from './lockout.ts';
import type { PasswordHasher } from './password.ts';
import { base32Decode, verifyTotp } from './totp.ts';

export class SecretChecks {
  private readonly store: IdentityStore;
  private readonly passwords: PasswordHasher;
  private readonly lockout: LockoutPolicy;
  private readonly clock: Clock;

  constructor(o: { store: IdentityStore; passwords: PasswordHasher; lockout: LockoutPolicy; clock: Clock }) {
    this.store = o.store;
    this.passwords = o.passwords;
    this.lockout = o.lockout;
    this.clock = o.clock;
  }

  /** Throws AuthError locked while the account is locked. */
  refuseLocked(user: UserRecord): void {
    const locked = lockRemainingMs(user.lockedUntil, this.clock());
    if (locked > 0) throw new AuthError('locked', 'account is locked after repeated failures', Math.ceil(locked / 1000));
  }

  /** Checks the password (counting a failure); returns whether the stored hash should be upgraded. */
  async password(user: UserRecord, password: string): Promise<{ needsRehash: boolean }> {
    const check = await this.passwords.verify(password, user.passwordHash);
    if (!check.valid) await this.failure(user, new AuthError('bad_credentials', 'e-mail or password is wrong'));
    return { needsRehash: check.needsRehash };
  }

  /** When the user has TOTP: the code must be valid and not used before (counting a failure otherwise). */
  async totp(user: UserRecord, code: string | undefined): Promise<void> {
    if (user.totpSecret === null) return;
    if (code === undefined || code === '') throw new AuthError('mfa_required', 'a TOTP code is required');
    const check = verifyTotp(base32Decode(user.totpSecret), String(code), this.clock(), user.totpLastStep);
    if (!check.ok) await this.failure(user, new AuthError('mfa_invalid', `TOTP code is ${check.reason}`));
    else if (!(await this.store.useTotpStep(user.tenantId, user.id, check.step))) {
      await this.failure(user, new AuthError('mfa_invalid', 'TOTP code is replayed'));
    }
  }

  /** After a success: clears failures and lock, and stores a new hash of `password` when asked. */
  async succeeded(user: UserRecord, rehash: string | undefined): Promise<void> {
    if (user.failedLogins === 0 && user.lockedUntil === null && rehash === undefined) return;
    await this.store.updateUser(user.tenantId, user.id, {
      failedLogins: 0, lockedUntil: null, updatedAt: this.clock(), ...(rehash === undefined ? {} : { passwordHash: rehash }),
    });
  }

  /** Counts a failure (locking the account at the limit) and throws `refusal` (or 'locked'). */
  async failure(user: UserRecord, refusal: AuthError): Promise<never> {
    const now = this.clock();
    const failures = await this.store.incrementFailedLogins(user.tenantId, user.id, now);
    const lockedUntil = lockAfterFailure(failures, now, this.lockout);
    if (lockedUntil === undefined) throw refusal;
    await this.store.updateUser(user.tenantId, user.id, { lockedUntil, failedLogins: 0, updatedAt: now });
    throw new AuthError('locked', 'account is locked after repeated failures', Math.ceil(this.lockout.lockMs / 1000));
  }
}
