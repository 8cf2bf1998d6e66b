// The precise refusals of identity and access, as one error class with a code, and the HTTP status each code
// should get (the API turns an AuthError into an RFC 9457 problem with `type` …/auth/<code>). Messages never
// contain secrets, and login refusals never reveal whether an e-mail exists (bad_credentials covers both).

export type AuthErrorCode =
  // login, and re-authentication before a credential change ('reauth_required': the current password is missing)
  | 'bad_credentials' | 'locked' | 'mfa_required' | 'mfa_invalid' | 'disabled' | 'reauth_required'
  // access tokens and API keys
  | 'malformed' | 'expired' | 'tampered' | 'revoked' | 'wrong_type'
  // refresh tokens
  | 'reuse_detected'
  // management
  | 'invalid_request' | 'forbidden' | 'not_found' | 'conflict';

export const AUTH_ERROR_STATUS: Record<AuthErrorCode, number> = {
  bad_credentials: 401, locked: 401, mfa_required: 401, mfa_invalid: 401, disabled: 401, reauth_required: 401,
  malformed: 401, expired: 401, tampered: 401, revoked: 401, wrong_type: 401, reuse_detected: 401,
  invalid_request: 400, forbidden: 403, not_found: 404, conflict: 409,
};

export class AuthError extends Error {
  override name = 'AuthError';
  readonly code: AuthErrorCode;
  /** For 'locked': seconds until the account unlocks (the API's Retry-After). */
  readonly retryAfterSeconds?: number;

  constructor(code: AuthErrorCode, message: string, retryAfterSeconds?: number) {
    super(message);
    this.code = code;
    if (retryAfterSeconds !== undefined) this.retryAfterSeconds = retryAfterSeconds;
  }

  get status(): number {
    return AUTH_ERROR_STATUS[this.code];
  }
}
