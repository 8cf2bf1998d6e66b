// Agent policies: versioned JSON documents per tenant. PUT stores the next version and hands it to
// `onPolicyStored` (the embedded server pushes it to the tenant's connected agents); the list (latest versions,
// paged by name) and GET read the latest (or `?version=`); the acknowledgements list which version each agent
// last confirmed applying.

import type { FastifyInstance } from 'fastify';
import type { PolicyRecord } from '../../stores/metadata/types.ts';
import { intSchema, notFound } from '../http.ts';
import { keysetPage, pageQueryProperties, textKey, type PageQuery } from '../pagination.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';

const byName = textKey<PolicyRecord>((p) => p.name);
const MAX_POLICY_BYTES = 256 * 1024;
const POLICY = answers({ 200: ref('Policy') });
const nameParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,63}$' } } } as const;

const policyJson = (p: PolicyRecord, withDocument: boolean) => ({
  name: p.name, version: p.version, updated_by: p.updatedBy, updated_at: new Date(p.updatedAt).toISOString(),
  ...(withDocument ? { document: JSON.parse(p.document) as unknown } : {}),
});

export function policyRoutes(api: FastifyInstance, o: ApiOptions): void {
  api.get<{ Querystring: PageQuery }>('/policies', {
    config: { access: 'policies:read', etag: true },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: pageQueryProperties }, response: answers({ 200: ref('PolicyPage') }) },
  }, async (req) => {
    const page = await keysetPage(req.query, byName, (p) => o.metadata.listPolicies(req.principal!.tenantId, p));
    return { policies: page.items.map((p) => policyJson(p, false)), next: page.next };
  });

  api.get<{ Params: { name: string }; Querystring: { version?: number } }>('/policies/:name', {
    config: { access: 'policies:read' },
    schema: { params: nameParams, querystring: { type: 'object', additionalProperties: false, properties: { version: intSchema(1, 2 ** 31 - 1) } }, response: POLICY },
  }, async (req) => {
    const p = await o.metadata.getPolicy(req.principal!.tenantId, req.params.name, req.query.version);
    if (!p) throw notFound('policy');
    return policyJson(p, true);
  });

  api.put<{ Params: { name: string }; Body: { document: Record<string, unknown> } }>('/policies/:name', {
    config: { access: 'policies:write' }, bodyLimit: MAX_POLICY_BYTES,
    schema: { params: nameParams, body: { type: 'object', additionalProperties: false, required: ['document'], properties: { document: { type: 'object' } } }, response: POLICY },
  }, async (req) => {
    const p = req.principal!;
    const stored = await o.metadata.putPolicy(p.tenantId, req.params.name, JSON.stringify(req.body.document), p.subject, Date.now());
    o.onPolicyStored?.(stored);
    return policyJson(stored, true);
  });

  api.get<{ Params: { name: string } }>('/policies/:name/acks', { config: { access: 'policies:read' }, schema: { params: nameParams, response: answers({ 200: ref('PolicyAcks') }) } }, async (req) => {
    const tenant = req.principal!.tenantId;
    const latest = await o.metadata.getPolicy(tenant, req.params.name);
    if (!latest) throw notFound('policy');
    const acks = await o.metadata.policyAcks(tenant, req.params.name);
    return {
      name: latest.name, latest_version: latest.version,
      agents: acks.map((a) => ({ agent_id: a.hostId, version: a.version, acked_at: new Date(a.ackedAt).toISOString(), current: a.version === latest.version })),
    };
  });
}
