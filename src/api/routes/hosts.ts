// Host routes: the host list, a host's detail and health, and its process tree (live, or at a moment in
// the past: rebuilt from stored process nodes, keyed by entity id so PID reuse never merges processes).

import type { FastifyInstance } from 'fastify';
import type { HostRecord } from '../../stores/metadata/types.ts';
import { buildTree } from '../../tree/process-tree.ts';
import { intSchema, isoTimeSchema, parseTime, problem } from '../http.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';

const MAX_TREE_NODES = 50_000;

export function hostView(h: HostRecord, online: boolean) {
  return {
    id: h.id, hostname: h.hostname, os: h.os, kernel: h.kernel, agent_version: h.agentVersion,
    status: online ? 'online' : 'offline', last_seen: h.lastSeen ? new Date(h.lastSeen).toISOString() : null,
    enrolled_at: new Date(h.enrolledAt).toISOString(), sensor_mode: h.health.sensorMode ?? null,
    health: h.health, certificate: { serial: h.certSerial, not_after: new Date(h.certNotAfter).toISOString(), revoked: h.revoked },
  };
}

/** Whether a host is online: connected now, or heard from within the offline threshold. */
export function isOnline(o: ApiOptions, h: HostRecord): boolean {
  return o.isConnected?.(h.id) || (h.lastSeen !== null && Date.now() - h.lastSeen < (o.offlineAfterMs ?? 90_000));
}

export function hostRoutes(api: FastifyInstance, o: ApiOptions): void {
  const online = (h: HostRecord) => isOnline(o, h);

  const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 128 } } } as const;

  api.get('/hosts', { config: { access: 'hosts:read', etag: true }, schema: { response: answers({ 200: ref('HostList') }) } }, async (req) => {
    const hosts = await o.metadata.listHosts(req.principal!.tenantId);
    return { hosts: hosts.map((h) => hostView(h, online(h))) };
  });

  api.get<{ Params: { id: string } }>('/hosts/:id', { config: { access: 'hosts:read' }, schema: { params: idParams, response: answers({ 200: ref('HostDetail') }) } }, async (req, reply) => {
    const h = await o.metadata.getHost(req.principal!.tenantId, req.params.id);
    if (!h) return problem(reply, 404, 'Not Found', 'no such host');
    return { ...hostView(h, online(h)), risk: o.risk ? await o.risk.score(req.principal!.tenantId, 'host', h.id) : null };
  });

  api.get<{ Params: { id: string }; Querystring: { at?: string; limit?: number } }>('/hosts/:id/process-tree', {
    config: { access: 'hosts:read' },
    schema: { params: idParams, querystring: { type: 'object', additionalProperties: false, properties: {
      at: isoTimeSchema, limit: intSchema(1, MAX_TREE_NODES) } }, response: answers({ 200: ref('ProcessTree') }) },
  }, async (req, reply) => {
    const tenant = req.principal!.tenantId;
    const at = parseTime(req.query.at, 'at') ?? new Date();
    const h = await o.metadata.getHost(tenant, req.params.id);
    if (!h) return problem(reply, 404, 'Not Found', 'no such host');
    const limit = req.query.limit ?? MAX_TREE_NODES;
    const live = req.query.at === undefined ? o.liveProcesses?.nodes(tenant, h.id) : undefined;
    const nodes = live ? live.slice(0, limit) : await o.events.processNodes(tenant, h.id, at, limit);
    return { host_id: h.id, at: at.toISOString(), live: req.query.at === undefined, count: nodes.length, roots: buildTree(nodes) };
  });
}
