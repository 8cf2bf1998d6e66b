// Service-account API keys of the caller's tenant: list by creation, paged (never the secret or its hash), create (the key is in
// the 201 answer and never again), revoke. Another tenant's key is 404.

import type { FastifyInstance } from 'fastify';
import { TENANT_ROLES } from '../../identity/permissions.ts';
import type { ApiKeyOrder, ApiKeyRecord } from '../../identity/store.ts';
import { isoOrNull, parseTime, requestContext } from '../http.ts';
import { keysetPage, pageQueryProperties, type PageQuery, type SortKey } from '../pagination.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';

const byCreation: SortKey<Omit<ApiKeyRecord, 'keyHash'>, ApiKeyOrder> = {
  of: (k) => [k.createdAt, k.id],
  is: (v): v is ApiKeyOrder => Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string',
};

function apiKeyJson(k: Omit<ApiKeyRecord, 'keyHash'>) {
  return {
    id: k.id, name: k.name, role: k.role, created_by: k.createdBy, created_at: isoOrNull(k.createdAt),
    expires_at: isoOrNull(k.expiresAt), revoked_at: isoOrNull(k.revokedAt), last_used_at: isoOrNull(k.lastUsedAt),
  };
}

export function apiKeyRoutes(api: FastifyInstance, o: ApiOptions): void {
  const { auth } = o.security;

  api.get<{ Querystring: PageQuery }>('/api-keys', {
    config: { access: 'apikeys:manage' },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: pageQueryProperties }, response: answers({ 200: ref('ApiKeyPage') }) },
  }, async (req) => {
    const page = await keysetPage(req.query, byCreation, (p) => auth.listApiKeys(req.principal!, p));
    return { api_keys: page.items.map(apiKeyJson), next: page.next };
  });

  api.post<{ Body: { name: string; role: string; expires_at?: string } }>('/api-keys', {
    config: { access: 'apikeys:manage' }, bodyLimit: 16 * 1024,
    schema: { body: { type: 'object', additionalProperties: false, required: ['name', 'role'], properties: {
      name: { type: 'string', minLength: 1, maxLength: 200 }, role: { type: 'string', enum: [...TENANT_ROLES] },
      expires_at: { type: 'string', maxLength: 40 } } }, response: answers({ 201: ref('ApiKeyCreated') }) },
  }, async (req, reply) => {
    const expiresAt = parseTime(req.body.expires_at, 'expires_at')?.getTime() ?? null;
    const { key, record } = await auth.createApiKey(req.principal!, { name: req.body.name, role: req.body.role, expiresAt }, requestContext(req));
    return reply.code(201).send({ ...apiKeyJson(record), key });
  });

  api.post<{ Params: { id: string } }>('/api-keys/:id/revoke', {
    config: { access: 'apikeys:manage' },
    schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } }, response: answers({ 204: null }) },
  }, async (req, reply) => {
    await auth.revokeApiKey(req.principal!, req.params.id, requestContext(req));
    return reply.code(204).send();
  });
}
