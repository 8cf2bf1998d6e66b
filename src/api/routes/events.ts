// Event search: time range, host, event types, a substring of the command line or path, one process, a user,
// a file path substring, a process image hash, an address, and keyset cursor paging; always scoped to the
// caller's tenant.

import { isIP } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { EVENT_TYPES } from '../../schema/event.ts';
import { intSchema, isoTimeSchema, parseTime, problem } from '../http.ts';
import { checkTimeCursor } from '../pagination.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';

const MAX_EVENTS = 10_000;

interface EventsQuery {
  from?: string; to?: string; host?: string; type?: string; q?: string; limit?: number; cursor?: string;
  process_entity_id?: string; user?: string; file?: string; hash?: string; ip?: string;
}

export function eventRoutes(api: FastifyInstance, o: ApiOptions): void {
  api.get<{ Querystring: EventsQuery }>('/events', {
    config: { access: 'hosts:read' },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: {
      from: isoTimeSchema, to: isoTimeSchema, host: { type: 'string', maxLength: 128 },
      type: { type: 'string', maxLength: 512 }, q: { type: 'string', maxLength: 1024 },
      process_entity_id: { type: 'string', minLength: 1, maxLength: 256 }, user: { type: 'string', minLength: 1, maxLength: 256 },
      file: { type: 'string', minLength: 1, maxLength: 1024 }, hash: { type: 'string', pattern: '^[0-9A-Fa-f]{64}$' },
      ip: { type: 'string', minLength: 2, maxLength: 64 },
      limit: intSchema(1, MAX_EVENTS), cursor: { type: 'string', minLength: 1, maxLength: 512 } } }, response: answers({ 200: ref('EventPage') }) },
  }, async (req, reply) => {
    const q = req.query;
    if (q.ip !== undefined && !isIP(q.ip)) return problem(reply, 400, 'Bad Request', 'ip must be an IPv4 or IPv6 address', { code: 'invalid_request' });
    const types = q.type ? q.type.split(',').map((t) => t.trim()).filter(Boolean) : undefined;
    const unknown = types?.find((t) => !(EVENT_TYPES as readonly string[]).includes(t));
    if (unknown) return problem(reply, 400, 'Bad Request', `unknown event type '${unknown}' (one of ${EVENT_TYPES.join(', ')})`, { code: 'invalid_request' });
    const [from, to] = [parseTime(q.from, 'from'), parseTime(q.to, 'to')];
    checkTimeCursor(q.cursor);
    let page;
    try {
      page = await o.events.queryEvents({
        tenantId: req.principal!.tenantId, from, to, hostId: q.host,
        types, q: q.q, processEntityId: q.process_entity_id, userName: q.user, filePath: q.file, sha256: q.hash?.toLowerCase(), ip: q.ip,
        limit: q.limit ?? 100, cursor: q.cursor,
      });
    } catch (err) {
      if ((err as Error).message === 'invalid cursor') return problem(reply, 400, 'Bad Request', 'invalid cursor', { code: 'invalid_cursor' });
      throw err;
    }
    return { events: page.events, next: page.next };
  });
}
