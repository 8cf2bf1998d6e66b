// Input checks shared by the identity libraries and the routes that feed them: tenant ids (one format wherever a
// tenant id is accepted) and well-formed text (no lone UTF-16 surrogates: JSON allows them, but the audit
// ledger's canonical JSON, UTF-8 stores and e-mail comparison do not). Pure.

import { AuthError } from './errors.ts';
import { PLATFORM_TENANT } from './permissions.ts';

/** Customer tenant ids: lower-case slugs, 2..63 characters (what POST /tenants accepts). */
export const CUSTOMER_TENANT_ID = /^[a-z0-9][a-z0-9-]{1,62}$/;
/** JSON-schema pattern of any tenant id a request may name: a customer tenant id or the platform tenant. */
export const TENANT_ID_PATTERN = `^(?:${PLATFORM_TENANT}|[a-z0-9][a-z0-9-]{1,62})$`;

export function isTenantId(v: unknown): v is string {
  return typeof v === 'string' && (v === PLATFORM_TENANT || CUSTOMER_TENANT_ID.test(v));
}

/** Throws AuthError invalid_request unless `v` is a tenant id. */
export function checkTenantId(v: unknown): asserts v is string {
  if (!isTenantId(v)) throw new AuthError('invalid_request', 'tenant id must be a lower-case slug (a-z, 0-9, -; 2..63 characters)');
}

/** True for a string without lone surrogates. */
export function isWellFormed(v: unknown): v is string {
  return typeof v === 'string' && v.isWellFormed();
}

/** Throws AuthError invalid_request when a string `what` contains a lone surrogate. */
export function checkWellFormed(what: string, v: unknown): void {
  if (typeof v === 'string' && !v.isWellFormed()) throw new AuthError('invalid_request', `${what} is not well-formed Unicode (lone surrogate)`);
}
