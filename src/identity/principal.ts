// The authenticated caller of an API request, as every route sees it: who (a user or an API key), in which
// tenant (always from the credential, never from the request), with which role and permissions. Pure.

import { hasPermission, permissionsOf, type Permission, type Role } from './permissions.ts';
import { AuthError } from './errors.ts';

export interface Principal {
  kind: 'user' | 'apikey';
  /** Set when kind is 'user'. */
  userId?: string;
  /** Set when kind is 'apikey'. */
  apiKeyId?: string;
  /** `user:<id>` or `apikey:<id>`: the actor recorded in the audit ledger and the rate-limit key. */
  subject: string;
  tenantId: string;
  role: Role;
  permissions: Permission[];
  /** The access token's jti, or the API key id. */
  tokenId: string;
  /** When the credential stops being valid (epoch ms), if it expires. */
  expiresAt?: number;
  /**
   * The person accountable for the call: `user:<id>` for a user; for an API key, whoever created it (the creating
   * user, followed through keys made with keys; `system` for the bootstrap key). Two-person rules compare this.
   */
  owner?: string;
}

export function userPrincipal(userId: string, tenantId: string, role: Role, tokenId: string, expiresAt: number): Principal {
  const subject = `user:${userId}`;
  return { kind: 'user', userId, subject, tenantId, role, permissions: permissionsOf(role), tokenId, expiresAt, owner: subject };
}

export function apiKeyPrincipal(apiKeyId: string, tenantId: string, role: Role, expiresAt: number | null, owner?: string): Principal {
  const p: Principal = {
    kind: 'apikey', apiKeyId, subject: `apikey:${apiKeyId}`, tenantId, role, permissions: permissionsOf(role), tokenId: apiKeyId,
    owner: owner ?? `apikey:${apiKeyId}`,
  };
  if (expiresAt !== null) p.expiresAt = expiresAt;
  return p;
}

/** Throws AuthError 'forbidden' unless the principal holds `permission`. */
export function requirePermission(p: Principal, permission: Permission): void {
  if (!hasPermission(p.role, permission)) throw new AuthError('forbidden', `role ${p.role} lacks ${permission}`);
}
