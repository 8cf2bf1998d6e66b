// The IdentityStore interface: users (per tenant), refresh-token families, revoked access-token ids and
// service-account API keys; the port the identity logic uses. Implemented once over SQL
// (src/stores/identity/sql-identity-store.ts) over the shared SQL layer (src/stores/sql/); both pass one conformance suite
// (test/identity/store-conformance.ts). Every query that concerns a tenant's object takes the tenant id. Times
// are epoch milliseconds. Types only.

import type { KeysetPage } from '../util/keyset.ts';

export interface UserRecord {
  id: string;
  tenantId: string;
  /** Normalised (trimmed, lower case); unique per tenant. */
  email: string;
  /** Self-describing password hash string (see src/identity/password.ts). */
  passwordHash: string;
  role: string;
  /** Base32 TOTP secret when MFA is enrolled, else null. */
  totpSecret: string | null;
  /** The last TOTP time step accepted (replays of it or earlier steps are refused). */
  totpLastStep: number | null;
  failedLogins: number;
  lockedUntil: number | null;
  disabled: boolean;
  createdAt: number;
  updatedAt: number;
}

/** Fields of a user that may be changed with updateUser. */
export type UserPatch = Partial<Pick<UserRecord,
  'passwordHash' | 'role' | 'totpSecret' | 'totpLastStep' | 'failedLogins' | 'lockedUntil' | 'disabled' | 'updatedAt'>>;

/** A login session: the chain of refresh tokens issued from one login. */
export interface RefreshFamilyRecord {
  id: string;
  tenantId: string;
  userId: string;
  createdAt: number;
  revokedAt: number | null;
  /** e.g. 'logout', 'reuse-detected', 'password-changed', 'user-disabled'. */
  revokedReason: string | null;
}

export interface RefreshTokenRecord {
  id: string;
  familyId: string;
  /** SHA-256 (hex) of the opaque token; the token itself is never stored. */
  tokenHash: string;
  issuedAt: number;
  expiresAt: number;
  /** When it was exchanged for its successor; a second use is a reuse. */
  usedAt: number | null;
}

export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  name: string;
  role: string;
  /** SHA-256 (hex) of the key's secret part; the key itself is shown once and never stored. */
  keyHash: string;
  createdBy: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

/** The sort key of API keys: [createdAt, id]. */
export type ApiKeyOrder = [number, string];

/** Thrown when a unique key (a tenant's user e-mail, an id) already exists. */
export class IdentityConflictError extends Error {
  override name = 'IdentityConflictError';
}

export interface IdentityStore {
  /** Creates the tables if needed. */
  migrate(): Promise<void>;
  close(): Promise<void>;

  /** Throws IdentityConflictError when the tenant already has a user with that e-mail (or the id exists). */
  createUser(user: UserRecord): Promise<void>;
  getUser(tenantId: string, id: string): Promise<UserRecord | undefined>;
  findUserByEmail(tenantId: string, email: string): Promise<UserRecord | undefined>;
  /** The tenant's users by e-mail; a page of them after `page.after` (an e-mail) when paged. */
  listUsers(tenantId: string, page?: KeysetPage<string>): Promise<UserRecord[]>;
  /** False when the tenant has no such user. */
  updateUser(tenantId: string, id: string, patch: UserPatch): Promise<boolean>;
  deleteUser(tenantId: string, id: string): Promise<boolean>;
  /** Atomically adds one failed login; returns the new count (0 when there is no such user). */
  incrementFailedLogins(tenantId: string, id: string, at: number): Promise<number>;
  /** Atomically records `step` as the last TOTP step used, only if it is later than the stored one. */
  useTotpStep(tenantId: string, id: string, step: number): Promise<boolean>;

  createRefreshFamily(family: RefreshFamilyRecord): Promise<void>;
  getRefreshFamily(id: string): Promise<RefreshFamilyRecord | undefined>;
  /** Revokes a family if it is not revoked yet; false when it was already revoked or does not exist. */
  revokeRefreshFamily(id: string, at: number, reason: string): Promise<boolean>;
  /** Revokes every live family of a user; returns how many. */
  revokeUserRefreshFamilies(tenantId: string, userId: string, at: number, reason: string): Promise<number>;
  addRefreshToken(token: RefreshTokenRecord): Promise<void>;
  findRefreshToken(tokenHash: string): Promise<RefreshTokenRecord | undefined>;
  /** Atomically marks a token used if it was not: true for the one caller that wins, false for any reuse. */
  markRefreshTokenUsed(id: string, at: number): Promise<boolean>;

  /** Remembers a revoked access-token id until its expiry. */
  revokeAccessToken(jti: string, expiresAt: number): Promise<void>;
  isAccessTokenRevoked(jti: string): Promise<boolean>;

  createApiKey(key: ApiKeyRecord): Promise<void>;
  getApiKey(id: string): Promise<ApiKeyRecord | undefined>;
  /** The tenant's API keys by creation time then id; a page after `page.after` when paged. */
  listApiKeys(tenantId: string, page?: KeysetPage<ApiKeyOrder>): Promise<ApiKeyRecord[]>;
  /** False when the tenant has no such live key. */
  revokeApiKey(tenantId: string, id: string, at: number): Promise<boolean>;
  touchApiKey(id: string, at: number): Promise<void>;

  /** Deletes revoked access-token ids and refresh tokens past their expiry; returns rows removed. */
  purgeExpired(now: number): Promise<number>;
}
