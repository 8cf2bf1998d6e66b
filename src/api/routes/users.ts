// User management of a tenant (admins; the super-admin may name a tenant with `?tenant=`, which must be in the
// tenant-id format (400) and exist (404)): list, create, read, change role or disable, unlock, delete. The list is paged by e-mail (src/api/pagination.ts). The identity library checks permissions and confines every
// call to the caller's tenant (another tenant's user is 404); this module maps HTTP onto it.

import type { FastifyInstance } from 'fastify';
import { AuthError } from '../../identity/errors.ts';
import { TENANT_ROLES } from '../../identity/permissions.ts';
import type { Principal } from '../../identity/principal.ts';
import { TENANT_ID_PATTERN } from '../../identity/validate.ts';
import type { UserView } from '../../identity/users.ts';
import { isoOrNull, requestContext } from '../http.ts';
import { keysetPage, pageQueryProperties, textKey, type PageQuery } from '../pagination.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } } as const;
const tenantProperty = { tenant: { type: 'string', pattern: TENANT_ID_PATTERN, maxLength: 64 } } as const;
const tenantQuery = { type: 'object', additionalProperties: false, properties: tenantProperty } as const;
const USER = answers({ 200: ref('User') });
const NONE = answers({ 204: null });
const byEmail = textKey<UserView>((u) => u.email);

export function userJson(u: UserView) {
  return {
    id: u.id, tenant_id: u.tenantId, email: u.email, role: u.role, disabled: u.disabled, mfa_enrolled: u.mfaEnrolled,
    locked_until: isoOrNull(u.lockedUntil), created_at: isoOrNull(u.createdAt), updated_at: isoOrNull(u.updatedAt),
  };
}

type ById = { Params: { id: string }; Querystring: { tenant?: string } };

const TENANT_PAGE = 500;

/** Whether the metadata store has tenant `id` (tenants come sorted by id: stop at the first id past it). */
export async function tenantExists(o: ApiOptions, id: string): Promise<boolean> {
  for (let after: string | undefined; ;) {
    const page = await o.metadata.listTenants({ after, limit: TENANT_PAGE });
    for (const t of page) {
      if (t.id === id) return true;
      if (t.id > id) return false;
    }
    if (page.length < TENANT_PAGE) return false;
    after = page[page.length - 1].id;
  }
}

/** A tenant the caller names must exist: 404 otherwise (as for a tenant they may not name). */
async function namedTenant(o: ApiOptions, p: Principal, tenant: string | undefined): Promise<string | undefined> {
  if (tenant !== undefined && tenant !== p.tenantId && !(await tenantExists(o, tenant))) throw new AuthError('not_found', 'no such tenant');
  return tenant;
}

export function userRoutes(api: FastifyInstance, o: ApiOptions): void {
  const { users } = o.security;

  api.get<{ Querystring: PageQuery & { tenant?: string } }>('/users', {
    config: { access: 'users:read' },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { ...tenantProperty, ...pageQueryProperties } }, response: answers({ 200: ref('UserPage') }) },
  }, async (req) => {
    const tenant = await namedTenant(o, req.principal!, req.query.tenant);
    const page = await keysetPage(req.query, byEmail, (p) => users.list(req.principal!, tenant, p));
    return { users: page.items.map(userJson), next: page.next };
  });

  api.post<{ Body: { email: string; password: string; role: string; tenant?: string } }>('/users', {
    config: { access: 'users:manage' }, bodyLimit: 16 * 1024,
    schema: { body: { type: 'object', additionalProperties: false, required: ['email', 'password', 'role'], properties: {
      email: { type: 'string', minLength: 3, maxLength: 320 }, password: { type: 'string', minLength: 1, maxLength: 1024 },
      role: { type: 'string', enum: [...TENANT_ROLES] }, ...tenantProperty } }, response: answers({ 201: ref('User') }) },
  }, async (req, reply) => {
    const b = req.body;
    const tenantId = await namedTenant(o, req.principal!, b.tenant);
    const user = await users.create(req.principal!, { email: b.email, password: b.password, role: b.role, tenantId }, requestContext(req));
    return reply.code(201).send(userJson(user));
  });

  api.get<ById>('/users/:id', { config: { access: 'users:read' }, schema: { params: idParams, querystring: tenantQuery, response: USER } },
    async (req) => userJson(await users.get(req.principal!, req.params.id, await namedTenant(o, req.principal!, req.query.tenant))));

  api.patch<ById & { Body: { role?: string; disabled?: boolean } }>('/users/:id', {
    config: { access: 'users:manage' },
    schema: { params: idParams, querystring: tenantQuery, body: { type: 'object', additionalProperties: false, minProperties: 1, properties: {
      role: { type: 'string', enum: [...TENANT_ROLES] }, disabled: { type: 'boolean' } } }, response: USER },
  }, async (req) => {
    const { principal, params: { id }, body } = req;
    const tenant = await namedTenant(o, principal!, req.query.tenant);
    const ctx = requestContext(req);
    if (body.role !== undefined) await users.setRole(principal!, id, body.role, ctx, tenant);
    if (body.disabled !== undefined) await users.setDisabled(principal!, id, body.disabled, ctx, tenant);
    return userJson(await users.get(principal!, id, tenant));
  });

  api.post<ById>('/users/:id/unlock', { config: { access: 'users:manage' }, schema: { params: idParams, querystring: tenantQuery, response: NONE } },
    async (req, reply) => {
      await users.unlock(req.principal!, req.params.id, requestContext(req), await namedTenant(o, req.principal!, req.query.tenant));
      return reply.code(204).send();
    });

  api.delete<ById>('/users/:id', { config: { access: 'users:manage' }, schema: { params: idParams, querystring: tenantQuery, response: NONE } },
    async (req, reply) => {
      await users.delete(req.principal!, req.params.id, requestContext(req), await namedTenant(o, req.principal!, req.query.tenant));
      return reply.code(204).send();
    });
}
