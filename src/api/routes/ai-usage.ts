// AI-service usage of the caller's tenant (seed 001; docs/intel.md): which hosts and users use which generative-AI
// services (GET /ai-usage: aggregated findings since a time, with the catalogue's names), the catalogue itself, and
// the tenant's policy (GET/PUT /ai-usage/policy: `record` findings only, or also `alert`). Reading needs
// hosts:read, changing the policy policies:write.

import type { FastifyInstance } from 'fastify';
import { AI_POLICIES, type AiPolicy } from '../../intel/ai-usage.ts';
import type { AiServiceCatalog } from '../../intel/ai-services.ts';
import type { AiPolicyRecord, SqlAiUsageStore } from '../../stores/intel/ai-usage-store.ts';
import { isoTimeSchema, parseTime } from '../http.ts';
import type { ApiOptions } from '../server.ts';

export interface AiUsageApi { store: SqlAiUsageStore; catalog: AiServiceCatalog }

const DEFAULT_WINDOW_MS = 30 * 86_400_000;

const problemSchema = { type: 'object', additionalProperties: true, properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, code: { type: 'string' } } } as const;
const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema } as const;
const time = { type: 'string', format: 'date-time' } as const;
const policySchema = {
  type: 'object', additionalProperties: false, required: ['policy', 'updated_by', 'updated_at'],
  properties: { policy: { type: 'string', enum: [...AI_POLICIES] }, updated_by: { type: ['string', 'null'] }, updated_at: { type: ['string', 'null'], format: 'date-time' } },
} as const;
const serviceSchema = {
  type: 'object', additionalProperties: false, required: ['id', 'name', 'vendor', 'domains', 'ranges'],
  properties: { id: { type: 'string' }, name: { type: 'string' }, vendor: { type: 'string' }, domains: { type: 'array', items: { type: 'string' } }, ranges: { type: 'array', items: { type: 'string' } } },
} as const;
const usageSchema = {
  type: 'object', additionalProperties: false,
  required: ['host_id', 'hostname', 'user', 'service', 'service_name', 'executable', 'first_seen', 'last_seen', 'connections', 'resolutions', 'bytes'],
  properties: {
    host_id: { type: 'string' }, hostname: { type: 'string' }, user: { type: 'string' }, service: { type: 'string' }, service_name: { type: 'string' },
    executable: { type: 'string' }, first_seen: time, last_seen: time, connections: { type: 'integer' }, resolutions: { type: 'integer' },
    bytes: { type: 'integer', description: 'bytes the connection events counted (0 where the sensor counts none)' },
  },
} as const;

const policyView = (p: AiPolicyRecord) => ({ policy: p.policy, updated_by: p.updatedBy, updated_at: p.updatedAt === null ? null : new Date(p.updatedAt).toISOString() });

export function aiUsageRoutes(api: FastifyInstance, o: ApiOptions): void {
  const ai = o.aiUsage;
  if (!ai) return;

  api.get<{ Querystring: { since?: string } }>('/ai-usage', {
    config: { access: 'hosts:read' },
    schema: {
      querystring: { type: 'object', additionalProperties: false, properties: { since: isoTimeSchema } },
      response: { 200: { type: 'object', additionalProperties: false, required: ['since', 'policy', 'usage'], properties: { since: time, policy: { type: 'string', enum: [...AI_POLICIES] }, usage: { type: 'array', items: usageSchema } } }, ...errors },
    },
  }, async (req) => {
    const tenant = req.principal!.tenantId;
    const since = parseTime(req.query.since, 'since') ?? new Date(Date.now() - DEFAULT_WINDOW_MS);
    const [rows, hosts, policy] = await Promise.all([ai.store.list(tenant, since.getTime()), o.metadata.listHosts(tenant), ai.store.policy(tenant)]);
    const hostname = new Map(hosts.map((h) => [h.id, h.hostname]));
    const serviceName = new Map(ai.catalog.services.map((s) => [s.id, s.name]));
    return {
      since: since.toISOString(), policy,
      usage: rows.map((r) => ({
        host_id: r.hostId, hostname: hostname.get(r.hostId) ?? r.hostId, user: r.userName, service: r.serviceId, service_name: serviceName.get(r.serviceId) ?? r.serviceId,
        executable: r.executable, first_seen: new Date(r.firstSeen).toISOString(), last_seen: new Date(r.lastSeen).toISOString(),
        connections: r.connections, resolutions: r.resolutions, bytes: r.bytes,
      })),
    };
  });

  api.get('/ai-usage/services', {
    config: { access: 'hosts:read' },
    schema: { response: { 200: { type: 'object', additionalProperties: false, required: ['services'], properties: { services: { type: 'array', items: serviceSchema } } }, ...errors } },
  }, async () => ({ services: ai.catalog.services }));

  api.get('/ai-usage/policy', {
    config: { access: 'hosts:read' }, schema: { response: { 200: policySchema, ...errors } },
  }, async (req) => policyView(await ai.store.policyRecord(req.principal!.tenantId)));

  api.put<{ Body: { policy: AiPolicy } }>('/ai-usage/policy', {
    config: { access: 'policies:write' },
    schema: {
      body: { type: 'object', additionalProperties: false, required: ['policy'], properties: { policy: { type: 'string', enum: [...AI_POLICIES] } } },
      response: { 200: policySchema, ...errors },
    },
  }, async (req) => {
    const p = req.principal!;
    req.auditDetail = { policy: req.body.policy };
    return policyView(await ai.store.setPolicy(p.tenantId, req.body.policy, p.subject));
  });
}
