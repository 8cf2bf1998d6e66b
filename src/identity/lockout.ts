// Account lockout policy: after `maxFailures` consecutive failed logins (wrong password or wrong TOTP code) the
// account is locked for `lockMs`; the counter restarts after a lock and at a successful login. Pure.

export interface LockoutPolicy {
  maxFailures: number;
  lockMs: number;
}

export const DEFAULT_LOCKOUT: LockoutPolicy = { maxFailures: 5, lockMs: 15 * 60_000 };

/** Milliseconds the account stays locked at `now` (0 when it is not locked). */
export function lockRemainingMs(lockedUntil: number | null, now: number): number {
  return lockedUntil !== null && lockedUntil > now ? lockedUntil - now : 0;
}

/** The lock to apply after the `failures`-th consecutive failure, or undefined while under the limit. */
export function lockAfterFailure(failures: number, now: number, policy: LockoutPolicy): number | undefined {
  return failures >= policy.maxFailures ? now + policy.lockMs : undefined;
}
