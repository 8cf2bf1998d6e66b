// Tenant management for the super-admin (platform scope): list tenants (paged by id), create one (with its first admin
// user, so the new tenant can be administered at once; the admin is checked before the tenant is created, so a
// refused admin leaves no tenant behind). Tenant ids are lower-case slugs, so the platform tenant `_platform`
// can never be created here.

import type { FastifyInstance } from 'fastify';
import { HttpError, requestContext } from '../http.ts';
import { requirePermission } from '../../identity/principal.ts';
import { checkWellFormed, CUSTOMER_TENANT_ID } from '../../identity/validate.ts';
import type { TenantRecord } from '../../stores/metadata/types.ts';
import { keysetPage, pageQueryProperties, textKey, type PageQuery } from '../pagination.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';
import { userJson } from './users.ts';

const byId = textKey<TenantRecord>((t) => t.id);

export function tenantRoutes(api: FastifyInstance, o: ApiOptions): void {
  api.get<{ Querystring: PageQuery }>('/tenants', {
    config: { access: 'tenants:manage' },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: pageQueryProperties }, response: answers({ 200: ref('TenantPage') }) },
  }, async (req) => {
    const page = await keysetPage(req.query, byId, (p) => o.metadata.listTenants(p));
    return { tenants: page.items.map((t) => ({ id: t.id, name: t.name, created_at: new Date(t.createdAt).toISOString() })), next: page.next };
  });

  api.post<{ Body: { id: string; name: string; admin?: { email: string; password: string } } }>('/tenants', {
    config: { access: 'tenants:manage' }, bodyLimit: 16 * 1024,
    schema: { body: { type: 'object', additionalProperties: false, required: ['id', 'name'], properties: {
      id: { type: 'string', pattern: CUSTOMER_TENANT_ID.source }, name: { type: 'string', minLength: 1, maxLength: 200 },
      admin: { type: 'object', additionalProperties: false, required: ['email', 'password'], properties: {
        email: { type: 'string', minLength: 3, maxLength: 320 }, password: { type: 'string', minLength: 1, maxLength: 1024 } } } } },
      response: answers({ 201: ref('TenantCreated') }) },
  }, async (req, reply) => {
    const { id, name, admin } = req.body;
    checkWellFormed('tenant name', name);
    if (admin) {
      requirePermission(req.principal!, 'users:manage');
      o.security.users.checkNewUser(admin);
    }
    if (!(await o.metadata.createTenant(id, name, Date.now()))) throw new HttpError(409, `tenant ${id} exists`, 'conflict');
    const user = admin ? await o.security.users.create(req.principal!, { ...admin, role: 'admin', tenantId: id }, requestContext(req)) : undefined;
    return reply.code(201).send({ id, name, admin: user ? userJson(user) : null });
  });
}
