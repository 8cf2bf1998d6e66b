// The REST API (first slice, /api/v1): hosts, host detail, process tree (live and at a time), and event
// search; API-key authentication with the tenant taken from the credential; errors as RFC 9457 problem
// details; Prometheus metrics and health endpoints.

import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { EVENT_TYPES } from '../schema/event.ts';
import type { EventStore } from '../stores/events/types.ts';
import type { HostRecord, MetadataStore } from '../stores/metadata/types.ts';
import { buildTree } from '../tree/process-tree.ts';
import { registry } from '../server/metrics.ts';
import { issueEnrollmentToken } from '../server/enrollment-tokens.ts';

export interface ApiOptions {
  metadata: MetadataStore;
  events: EventStore;
  log: Logger;
  /** Milliseconds without a heartbeat after which a host counts as offline. */
  offlineAfterMs?: number;
  isConnected?: (hostId: string) => boolean;
}

export interface Principal { keyId: string; tenantId: string; role: string }

declare module 'fastify' {
  interface FastifyRequest { principal?: Principal }
}

const MAX_EVENTS = 10_000;
const MAX_TREE_NODES = 50_000;

function problem(reply: FastifyReply, status: number, title: string, detail?: string) {
  return reply.code(status).type('application/problem+json').send({ type: 'about:blank', title, status, detail });
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function hostView(h: HostRecord, online: boolean) {
  return {
    id: h.id, hostname: h.hostname, os: h.os, kernel: h.kernel, agent_version: h.agentVersion,
    status: online ? 'online' : 'offline', last_seen: h.lastSeen ? new Date(h.lastSeen).toISOString() : null,
    enrolled_at: new Date(h.enrolledAt).toISOString(), sensor_mode: h.health.sensorMode ?? null,
    health: h.health, certificate: { serial: h.certSerial, not_after: new Date(h.certNotAfter).toISOString(), revoked: h.revoked },
  };
}

function parseTime(v: string | undefined, name: string): Date | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw Object.assign(new Error(`${name} is not an ISO 8601 time`), { statusCode: 400 });
  return d;
}

export function buildApi(o: ApiOptions): FastifyInstance {
  const app = Fastify({ loggerInstance: o.log as FastifyBaseLogger, bodyLimit: 1024 * 1024 });
  const online = (h: HostRecord) => o.isConnected?.(h.id)
    || (h.lastSeen !== null && Date.now() - h.lastSeen < (o.offlineAfterMs ?? 90_000));

  app.setErrorHandler((err: { statusCode?: number; message: string; validation?: unknown }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    return problem(reply, status, status >= 500 ? 'Internal Server Error' : 'Bad Request', status >= 500 ? undefined : err.message);
  });
  app.setNotFoundHandler((req, reply) => problem(reply, 404, 'Not Found', `no route ${req.method} ${req.url.split('?')[0]}`));

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => ({ status: 'ready' }));
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));

  app.register(async (api) => {
    api.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      if (!m) return problem(reply, 401, 'Unauthorized', 'an API key is required: Authorization: Bearer <key>');
      const key = await o.metadata.findApiKey(hashApiKey(m[1]));
      if (!key || key.revoked) return problem(reply, 401, 'Unauthorized', 'invalid or revoked API key');
      req.principal = { keyId: key.id, tenantId: key.tenantId, role: key.role };
    });

    api.get('/hosts', async (req) => {
      const hosts = await o.metadata.listHosts(req.principal!.tenantId);
      return { hosts: hosts.map((h) => hostView(h, online(h))) };
    });

    api.get<{ Params: { id: string } }>('/hosts/:id', async (req, reply) => {
      const h = await o.metadata.getHost(req.principal!.tenantId, req.params.id);
      return h ? hostView(h, online(h)) : problem(reply, 404, 'Not Found', 'no such host');
    });

    api.get<{ Params: { id: string }; Querystring: { at?: string; limit?: number } }>('/hosts/:id/process-tree', {
      schema: { querystring: { type: 'object', additionalProperties: false, properties: {
        at: { type: 'string', maxLength: 40 }, limit: { type: 'integer', minimum: 1, maximum: MAX_TREE_NODES } } } },
    }, async (req, reply) => {
      const tenant = req.principal!.tenantId;
      const h = await o.metadata.getHost(tenant, req.params.id);
      if (!h) return problem(reply, 404, 'Not Found', 'no such host');
      const at = parseTime(req.query.at, 'at') ?? new Date();
      const nodes = await o.events.processNodes(tenant, h.id, at, req.query.limit ?? MAX_TREE_NODES);
      return { host_id: h.id, at: at.toISOString(), live: req.query.at === undefined, count: nodes.length, roots: buildTree(nodes) };
    });

    api.post<{ Body: { ttl_seconds?: number; max_uses?: number | null } }>('/enrollment-tokens', {
      schema: { body: { type: 'object', additionalProperties: false, properties: {
        ttl_seconds: { type: 'integer', minimum: 60, maximum: 30 * 86_400 },
        max_uses: { type: ['integer', 'null'], minimum: 1, maximum: 1_000_000 } } } },
    }, async (req, reply) => {
      if (req.principal!.role !== 'admin') return problem(reply, 403, 'Forbidden', 'creating enrolment tokens needs the admin role');
      const body = req.body ?? {};
      const t = await issueEnrollmentToken(o.metadata, req.principal!.tenantId, (body.ttl_seconds ?? 3600) * 1000, body.max_uses === undefined ? 1 : body.max_uses);
      return reply.code(201).send({ id: t.id, token: t.token, expires_at: new Date(t.expiresAt).toISOString(), max_uses: t.maxUses });
    });

    api.get<{ Querystring: { from?: string; to?: string; host?: string; type?: string; q?: string; limit?: number; cursor?: string } }>('/events', {
      schema: { querystring: { type: 'object', additionalProperties: false, properties: {
        from: { type: 'string', maxLength: 40 }, to: { type: 'string', maxLength: 40 }, host: { type: 'string', maxLength: 128 },
        type: { type: 'string', maxLength: 512 }, q: { type: 'string', maxLength: 1024 },
        limit: { type: 'integer', minimum: 1, maximum: MAX_EVENTS }, cursor: { type: 'string', maxLength: 512 } } } },
    }, async (req, reply) => {
      const q = req.query;
      const types = q.type ? q.type.split(',').map((t) => t.trim()).filter(Boolean) : undefined;
      const unknown = types?.find((t) => !(EVENT_TYPES as readonly string[]).includes(t));
      if (unknown) return problem(reply, 400, 'Bad Request', `unknown event type '${unknown}' (one of ${EVENT_TYPES.join(', ')})`);
      let page;
      try {
        page = await o.events.queryEvents({
          tenantId: req.principal!.tenantId, from: parseTime(q.from, 'from'), to: parseTime(q.to, 'to'), hostId: q.host,
          types, q: q.q, limit: q.limit ?? 100, cursor: q.cursor,
        });
      } catch (err) {
        if ((err as Error).message === 'invalid cursor') return problem(reply, 400, 'Bad Request', 'invalid cursor');
        throw err;
      }
      return { events: page.events, next: page.next };
    });
  }, { prefix: '/api/v1' });

  return app;
}
