// The REST API server: Fastify with authentication (API keys; the tenant comes from the credential),
// RFC 9457 problem details for every error, health and Prometheus endpoints, and the route modules of
// src/api/routes/ under /api/v1.

import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { EventStore } from '../stores/events/types.ts';
import type { MetadataStore } from '../stores/metadata/types.ts';
import { registry } from '../server/metrics.ts';
import { problem } from './http.ts';
import { consoleRoutes } from './routes/console.ts';
import { enrollmentRoutes } from './routes/enrollment.ts';
import { eventRoutes } from './routes/events.ts';
import { hostRoutes } from './routes/hosts.ts';

export interface ApiOptions {
  metadata: MetadataStore;
  events: EventStore;
  log: Logger;
  /** Milliseconds without a heartbeat after which a host counts as offline. */
  offlineAfterMs?: number;
  isConnected?: (hostId: string) => boolean;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function buildApi(o: ApiOptions): FastifyInstance {
  const app = Fastify({ loggerInstance: o.log as FastifyBaseLogger, bodyLimit: 1024 * 1024 });
  app.setErrorHandler((err: { statusCode?: number; message: string; validation?: unknown }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) req.log.error({ err }, 'request failed');
    return problem(reply, status, status >= 500 ? 'Internal Server Error' : 'Bad Request', status >= 500 ? undefined : err.message);
  });
  app.setNotFoundHandler((req, reply) => problem(reply, 404, 'Not Found', `no route ${req.method} ${req.url.split('?')[0]}`));

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async () => ({ status: 'ready' }));
  app.get('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  consoleRoutes(app);

  app.register(async (api) => {
    api.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      if (!m) return problem(reply, 401, 'Unauthorized', 'an API key is required: Authorization: Bearer <key>');
      const key = await o.metadata.findApiKey(hashApiKey(m[1]));
      if (!key || key.revoked) return problem(reply, 401, 'Unauthorized', 'invalid or revoked API key');
      req.principal = { keyId: key.id, tenantId: key.tenantId, role: key.role };
    });

    hostRoutes(api, o);
    enrollmentRoutes(api, o);
    eventRoutes(api, o);
  }, { prefix: '/api/v1' });

  return app;
}
