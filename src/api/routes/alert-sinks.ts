// Alert sinks of the caller's tenant (webhooks every new alert is POSTed to; delivery in src/alerts/delivery.ts):
// list, create (an optional HMAC secret that is stored and never returned: `has_secret` says whether there is
// one), delete. Sink URLs may carry credentials, so reading them needs the same permission as changing them.
// A URL whose host is or resolves to a loopback, private, link-local or metadata address is a 400 unless the
// server allows private targets (SSRF guard, src/alerts/target-guard.ts; delivery checks again).

import type { FastifyInstance } from 'fastify';
import { viewOf, type AlertSinkView } from '../../alerts/sink-store.ts';
import { checkWebhookTarget, TargetRefusedError } from '../../alerts/target-guard.ts';
import { HttpError, notFound } from '../http.ts';
import type { ApiOptions } from '../server.ts';

const ACCESS = { access: 'policies:write' as const };
const MAX_SINKS_PER_TENANT = 20;

const sinkJson = (s: AlertSinkView) => ({
  id: s.id, name: s.name, url: s.url, has_secret: s.hasSecret, created_by: s.createdBy, created_at: new Date(s.createdAt).toISOString(),
});

/** An http(s) URL without embedded user credentials, else a 400. */
function webhookUrl(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new HttpError(400, 'url is not a URL', 'invalid_url');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new HttpError(400, 'url must be http or https', 'invalid_url');
  if (u.username || u.password) throw new HttpError(400, 'url must not carry user credentials (use secret)', 'invalid_url');
  return u;
}

/** Refuses (400) a URL whose host is or resolves to an address the SSRF guard forbids, or that does not resolve. */
async function guardTarget(u: URL): Promise<void> {
  try {
    await checkWebhookTarget(u);
  } catch (err) {
    if (err instanceof TargetRefusedError) throw new HttpError(400, err.message, 'forbidden_target');
    throw new HttpError(400, `url host ${u.hostname} does not resolve`, 'invalid_url');
  }
}

export function alertSinkRoutes(api: FastifyInstance, o: ApiOptions): void {
  const store = o.alertSinks;
  if (!store) return;

  api.get('/alert-sinks', { config: ACCESS }, async (req) => ({ alert_sinks: (await store.list(req.principal!.tenantId)).map(sinkJson) }));

  api.post<{ Body: { name: string; url: string; secret?: string } }>('/alert-sinks', {
    config: ACCESS, bodyLimit: 16 * 1024,
    schema: { body: { type: 'object', additionalProperties: false, required: ['name', 'url'], properties: {
      name: { type: 'string', minLength: 1, maxLength: 200 }, url: { type: 'string', minLength: 1, maxLength: 2048 },
      secret: { type: 'string', minLength: 16, maxLength: 256 } } } },
  }, async (req, reply) => {
    const p = req.principal!;
    if ((await store.list(p.tenantId)).length >= MAX_SINKS_PER_TENANT) throw new HttpError(409, `at most ${MAX_SINKS_PER_TENANT} alert sinks per tenant`, 'too_many_sinks');
    const url = webhookUrl(req.body.url);
    if (!o.allowPrivateAlertSinks) await guardTarget(url);
    const sink = await store.create({ tenantId: p.tenantId, name: req.body.name, url: url.toString(), secret: req.body.secret ?? null, createdBy: p.subject, createdAt: Date.now() });
    return reply.code(201).send(sinkJson(viewOf(sink)));
  });

  api.delete<{ Params: { id: string } }>('/alert-sinks/:id', {
    config: ACCESS, schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } } },
  }, async (req, reply) => {
    if (!await store.delete(req.principal!.tenantId, req.params.id)) throw notFound('alert sink');
    return reply.code(204).send();
  });
}
