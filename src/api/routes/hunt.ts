// Threat hunting: POST /hunt runs the caller's read-only SQL over the event store, validated on the engine's
// parse tree and always scoped to the caller's tenant (src/stores/events/hunt.ts), within row, time, read and
// memory limits the engine enforces, on the store's hunt lane (never in front of searches). Refusals are 400
// (the query is not allowed), 422 (it hit a limit or failed) or 429 with Retry-After (the tenant, or the
// server, already runs as many hunts as allowed), with a precise `code`.

import type { FastifyInstance } from 'fastify';
import { DEFAULT_HUNT_LIMITS, HuntRefusal, type HuntRefusalCode } from '../../stores/events/hunt.ts';
import { HttpError, problem } from '../http.ts';
import type { ApiOptions } from '../server.ts';

const RUNTIME: ReadonlySet<HuntRefusalCode> = new Set(['timeout', 'memory_limit', 'size_limit', 'query_failed']);

export function huntRoutes(api: FastifyInstance, o: ApiOptions): void {
  const limits = { ...DEFAULT_HUNT_LIMITS, ...o.hunt };

  api.post<{ Body: { sql: string; limit?: number } }>('/hunt', {
    config: { access: 'hunt:query' }, bodyLimit: 64 * 1024,
    schema: { body: { type: 'object', additionalProperties: false, required: ['sql'], properties: {
      sql: { type: 'string', minLength: 1, maxLength: limits.maxSqlLength }, limit: { type: 'integer', minimum: 1, maximum: limits.maxRows } } } },
  }, async (req, reply) => {
    try {
      return await o.events.hunt(req.principal!.tenantId, req.body.sql, { ...limits, maxRows: req.body.limit ?? limits.maxRows });
    } catch (err) {
      if (!(err instanceof HuntRefusal)) throw err;
      if (err.code === 'busy') {
        reply.header('retry-after', String(err.retryAfterSeconds ?? limits.maxExecutionSeconds));
        return problem(reply, 429, 'Too Many Requests', err.message, { code: 'hunt_busy' });
      }
      throw new HttpError(RUNTIME.has(err.code) ? 422 : 400, err.message, `hunt_${err.code}`);
    }
  });
}
