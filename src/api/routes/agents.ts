// Agent management: the tenant's agents with their health (one agent per host), and certificate revocation
// (the agent's next connection is refused by ingest). Enrolment tokens are in enrollment.ts.

import type { FastifyInstance } from 'fastify';
import { notFound } from '../http.ts';
import type { ApiOptions } from '../server.ts';
import { hostView, isOnline } from './hosts.ts';

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

export function agentRoutes(api: FastifyInstance, o: ApiOptions): void {
  api.get('/agents', { config: { access: 'agents:read', etag: true } }, async (req) => {
    const hosts = await o.metadata.listHosts(req.principal!.tenantId);
    return { agents: hosts.map((h) => hostView(h, isOnline(o, h))) };
  });

  api.get<{ Params: { id: string } }>('/agents/:id', { config: { access: 'agents:read' }, schema: { params: idParams } }, async (req) => {
    const h = await o.metadata.getHost(req.principal!.tenantId, req.params.id);
    if (!h) throw notFound('agent');
    return hostView(h, isOnline(o, h));
  });

  api.post<{ Params: { id: string } }>('/agents/:id/revoke', { config: { access: 'agents:manage' }, schema: { params: idParams } }, async (req) => {
    const tenant = req.principal!.tenantId;
    if (!(await o.metadata.revokeAgent(tenant, req.params.id))) throw notFound('agent');
    const h = (await o.metadata.getHost(tenant, req.params.id))!;
    return hostView(h, isOnline(o, h));
  });
}
