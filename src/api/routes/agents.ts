// Agent management: the tenant's agents with their health (one agent per host) and the policy versions each
// acknowledged, and certificate revocation (the open stream is cut, the next connection refused by ingest).
// Enrolment tokens are in enrollment.ts.

import type { FastifyInstance } from 'fastify';
import type { HostRecord, MetadataStore } from '../../stores/metadata/types.ts';
import { notFound } from '../http.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';
import { hostView, isOnline } from './hosts.ts';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

/** Per agent, the version of each of the tenant's policies it acknowledged: agent id → policy name → version. */
async function acknowledgedPolicies(metadata: MetadataStore, tenantId: string): Promise<Map<string, Record<string, number>>> {
  const byAgent = new Map<string, Record<string, number>>();
  for (const p of await metadata.listPolicies(tenantId)) {
    for (const a of await metadata.policyAcks(tenantId, p.name)) byAgent.set(a.hostId, { ...byAgent.get(a.hostId), [p.name]: a.version });
  }
  return byAgent;
}

const agentView = (o: ApiOptions, h: HostRecord, acks: Map<string, Record<string, number>>) =>
  ({ ...hostView(h, isOnline(o, h)), policy_versions: acks.get(h.id) ?? {} });

export function agentRoutes(api: FastifyInstance, o: ApiOptions): void {
  api.get('/agents', { config: { access: 'agents:read', etag: true }, schema: { response: answers({ 200: ref('AgentList') }) } }, async (req) => {
    const tenant = req.principal!.tenantId;
    const [hosts, acks] = await Promise.all([o.metadata.listHosts(tenant), acknowledgedPolicies(o.metadata, tenant)]);
    return { agents: hosts.map((h) => agentView(o, h, acks)) };
  });

  api.get<{ Params: { id: string } }>('/agents/:id', { config: { access: 'agents:read' }, schema: { params: idParams, response: answers({ 200: ref('Agent') }) } }, async (req) => {
    const tenant = req.principal!.tenantId;
    const h = await o.metadata.getHost(tenant, req.params.id);
    if (!h) throw notFound('agent');
    return agentView(o, h, await acknowledgedPolicies(o.metadata, tenant));
  });

  api.post<{ Params: { id: string } }>('/agents/:id/revoke', { config: { access: 'agents:manage' }, schema: { params: idParams, response: answers({ 200: ref('Host') }) } }, async (req) => {
    const tenant = req.principal!.tenantId;
    if (!(await o.metadata.revokeAgent(tenant, req.params.id))) throw notFound('agent');
    o.onAgentRevoked?.(req.params.id);
    const h = (await o.metadata.getHost(tenant, req.params.id))!;
    return hostView(h, isOnline(o, h));
  });
}
