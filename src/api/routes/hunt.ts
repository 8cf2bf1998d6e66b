// Threat hunting: POST /hunt runs the caller's read-only SQL over the event store, validated on the engine's
// parse tree and always scoped to the caller's tenant (src/stores/events/hunt.ts), within row, time, read and
// memory limits the engine enforces, on the store's hunt lane (never in front of searches). Refusals are 400
// (the query is not allowed), 422 (it hit a limit or failed) or 429 with Retry-After (the tenant, or the
// server, already runs as many hunts as allowed), with a precise `code`.
// Every hunt is recorded in the audit ledger as `hunt.query`, before its answer leaves: who ran which SQL (its text,
// up to 8 KiB, and the SHA-256 of all of it), how many rows it returned and whether truncated, how long it ran, or
// why it was refused. If the ledger cannot record it, the caller gets 503 instead of the rows.

import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { JsonValue } from '../../ledger/canonical.ts';
import { DEFAULT_HUNT_LIMITS, HuntRefusal, type HuntRefusalCode } from '../../stores/events/hunt.ts';
import { HttpError, problem } from '../http.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';

const RUNTIME: ReadonlySet<HuntRefusalCode> = new Set(['timeout', 'memory_limit', 'size_limit', 'query_failed']);
/** SQL text kept in a ledger entry; longer texts are cut (the digest covers all of it). */
export const AUDITED_SQL_CHARS = 8192;

export function huntRoutes(api: FastifyInstance, o: ApiOptions): void {
  const limits = { ...DEFAULT_HUNT_LIMITS, ...o.hunt };

  /** Records the hunt (`hunt.query`): the SQL, its digest and what came of it; a 503 when the ledger cannot. */
  const audit = async (req: FastifyRequest<{ Body: { sql: string; limit?: number } }>, outcome: string, facts: { [k: string]: JsonValue }) => {
    const { sql } = req.body;
    try {
      await o.security.ledger.record({
        actor: req.principal!.subject, tenantId: req.principal!.tenantId, action: 'hunt.query', outcome, requestId: String(req.id),
        detail: { sql: sql.slice(0, AUDITED_SQL_CHARS), sql_sha256: createHash('sha256').update(sql).digest('hex'), sql_chars: sql.length, ...facts },
      });
    } catch (err) {
      req.log.error({ err }, 'audit ledger append failed');
      throw new HttpError(503, 'the audit ledger could not record this hunt', 'audit_unavailable');
    }
  };

  api.post<{ Body: { sql: string; limit?: number } }>('/hunt', {
    config: { access: 'hunt:query' }, bodyLimit: 64 * 1024,
    schema: { body: { type: 'object', additionalProperties: false, required: ['sql'], properties: {
      sql: { type: 'string', minLength: 1, maxLength: limits.maxSqlLength }, limit: { type: 'integer', minimum: 1, maximum: limits.maxRows } } },
      response: answers({ 200: ref('HuntResult') }) },
  }, async (req, reply) => {
    const started = performance.now();
    try {
      const result = await o.events.hunt(req.principal!.tenantId, req.body.sql, { ...limits, maxRows: req.body.limit ?? limits.maxRows });
      await audit(req, 'success', { rows: result.rows.length, truncated: result.truncated, elapsed_ms: result.elapsed_ms });
      return result;
    } catch (err) {
      if (err instanceof HttpError) throw err; // the ledger refused the record (503)
      await audit(req, err instanceof HuntRefusal && err.code === 'busy' ? 'denied' : 'failure', {
        code: err instanceof HuntRefusal ? `hunt_${err.code}` : 'internal_error', elapsed_ms: Math.round(performance.now() - started),
      });
      if (!(err instanceof HuntRefusal)) throw err;
      if (err.code === 'busy') {
        reply.header('retry-after', String(err.retryAfterSeconds ?? limits.maxExecutionSeconds));
        return problem(reply, 429, 'Too Many Requests', err.message, { code: 'hunt_busy' });
      }
      throw new HttpError(RUNTIME.has(err.code) ? 422 : 400, err.message, `hunt_${err.code}`);
    }
  });
}
