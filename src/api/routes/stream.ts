// GET /stream: Server-Sent Events for the console, authenticated like every route: by header, or, since
// EventSource sends no headers, by `?ticket=` from POST /stream/ticket (single use, 30 s; src/api/stream-ticket.ts).
// A credential itself is never accepted in the URL. Emits `alert` events published on the LiveFeed and `host`
// events when a host of the caller's tenant goes online or offline (checked every few seconds); a comment line
// keeps the connection alive. The stream ends when the credential expires.

import type { FastifyInstance } from 'fastify';
import { credentialOf } from '../http.ts';
import type { LiveFeed } from '../live-feed.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';
import { isOnline } from './hosts.ts';

const HOST_POLL_MS = 5000;
const KEEPALIVE_MS = 15_000;

const sse = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

export function streamRoutes(api: FastifyInstance, o: ApiOptions & { liveFeed: LiveFeed }): void {
  api.post('/stream/ticket', {
    config: { access: 'alerts:read' },
    schema: { response: answers({ 200: ref('StreamTicket') }) },
  }, async (req) => {
    const { ticket, expiresIn } = await o.security.streamTickets.issue(credentialOf(req)!);
    return { ticket, expires_in: expiresIn };
  });

  api.get('/stream', {
    config: { access: 'alerts:read', streamTicket: true },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { ticket: { type: 'string', minLength: 1, maxLength: 8192 } } },
      response: answers({ 200: { description: 'Server-Sent Events: ready, alert, host, end', content: { 'text/event-stream': { schema: { type: 'string' } } } } }) },
  }, async (req, reply) => {
    const p = req.principal!;
    const out = reply.raw;
    reply.hijack();
    out.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-request-id': req.id, connection: 'keep-alive' });
    out.write(sse('ready', { tenant_id: p.tenantId }));

    const statuses = new Map<string, string>();
    const pollHosts = async () => {
      for (const h of await o.metadata.listHosts(p.tenantId)) {
        const status = isOnline(o, h) ? 'online' : 'offline';
        const before = statuses.get(h.id);
        statuses.set(h.id, status);
        if (before !== undefined && before !== status) out.write(sse('host', { id: h.id, hostname: h.hostname, status }));
      }
    };
    const poll = () => pollHosts().catch((err) => req.log.warn({ err }, 'stream host poll failed'));
    await poll();

    const unsubscribe = o.liveFeed.subscribe(p.tenantId, (e) => out.write(sse(e.type, e.data)));
    const timers = [setInterval(poll, HOST_POLL_MS), setInterval(() => out.write(': keep-alive\n\n'), KEEPALIVE_MS)];
    const expiry = p.expiresAt ? setTimeout(() => out.end(sse('end', { reason: 'credential expired' })), Math.max(0, p.expiresAt - Date.now())) : undefined;
    req.raw.on('close', () => {
      unsubscribe();
      timers.forEach(clearInterval);
      clearTimeout(expiry);
    });
  });
}
