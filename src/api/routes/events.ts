// Event search: time range, host, event types, a substring of the command line or path, and keyset
// cursor paging; always scoped to the caller's tenant.

import type { FastifyInstance } from 'fastify';
import { EVENT_TYPES } from '../../schema/event.ts';
import { intSchema, isoTimeSchema, parseTime, problem } from '../http.ts';
import { checkTimeCursor } from '../pagination.ts';
import type { ApiOptions } from '../server.ts';

const MAX_EVENTS = 10_000;

export function eventRoutes(api: FastifyInstance, o: ApiOptions): void {
  api.get<{ Querystring: { from?: string; to?: string; host?: string; type?: string; q?: string; limit?: number; cursor?: string } }>('/events', {
    config: { access: 'hosts:read' },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: {
      from: isoTimeSchema, to: isoTimeSchema, host: { type: 'string', maxLength: 128 },
      type: { type: 'string', maxLength: 512 }, q: { type: 'string', maxLength: 1024 },
      limit: intSchema(1, MAX_EVENTS), cursor: { type: 'string', minLength: 1, maxLength: 512 } } } },
  }, async (req, reply) => {
    const q = req.query;
    const types = q.type ? q.type.split(',').map((t) => t.trim()).filter(Boolean) : undefined;
    const unknown = types?.find((t) => !(EVENT_TYPES as readonly string[]).includes(t));
    if (unknown) return problem(reply, 400, 'Bad Request', `unknown event type '${unknown}' (one of ${EVENT_TYPES.join(', ')})`, { code: 'invalid_request' });
    const [from, to] = [parseTime(q.from, 'from'), parseTime(q.to, 'to')];
    checkTimeCursor(q.cursor);
    let page;
    try {
      page = await o.events.queryEvents({
        tenantId: req.principal!.tenantId, from, to, hostId: q.host,
        types, q: q.q, limit: q.limit ?? 100, cursor: q.cursor,
      });
    } catch (err) {
      if ((err as Error).message === 'invalid cursor') return problem(reply, 400, 'Bad Request', 'invalid cursor', { code: 'invalid_cursor' });
      throw err;
    }
    return { events: page.events, next: page.next };
  });
}
