// Alert sinks of the caller's tenant (delivery: src/alerts/dispatcher.ts; docs/alert-delivery.md): list with
// health (last success, last error, breaker, queue depth, dead letters), create, read, change (PATCH), delete,
// send a sample alert now (test), list a sink's deliveries, replay its dead letters; and the deliveries of one
// alert. The secret (HMAC key, SMTP password, PagerDuty routing key) is sealed at rest and never returned:
// `has_secret` says whether there is one. Sink URLs may name internal hosts, so reading sinks needs the same
// permission as changing them. A target whose host is or resolves to a loopback, private, link-local or metadata
// address is a 400 unless the server allows private targets (SSRF guard, src/alerts/target-guard.ts; delivery
// checks again). Every route has request and response schemas.

import type { FastifyInstance } from 'fastify';
import type { AlertDispatcher } from '../../alerts/dispatcher.ts';
import { factsOf, TEMPLATE_NAMES, unknownTemplateFields, type AlertDoc } from '../../alerts/formats.ts';
import {
  SEVERITIES, SINK_FORMATS, SINK_TYPES,
  type AlertSinkStore, type AlertSinkView, type Delivery, type OutboxStore, type SinkFormat, type SinkOptions, type SinkPatch, type SinkType,
} from '../../alerts/sink.ts';
import { checkWebhookTarget, TargetRefusedError } from '../../alerts/target-guard.ts';
import { HttpError, notFound } from '../http.ts';
import type { ApiOptions } from '../server.ts';

const ACCESS = { access: 'policies:write' as const };
const MAX_SINKS_PER_TENANT = 20;
const PAGERDUTY_EVENTS = 'https://events.pagerduty.com/v2/enqueue';

/** The formats each type accepts, the first its default. */
const FORMATS: Record<SinkType, readonly SinkFormat[]> = {
  stdout: ['vigil', 'ecs', 'ocsf', 'cef', 'text'], syslog: ['cef', 'vigil', 'ecs', 'ocsf', 'text'], webhook: ['vigil', 'ecs', 'ocsf'],
  email: ['text'], slack: ['text'], teams: ['text'], pagerduty: ['text'],
};
/** The URL schemes each type accepts. */
const SCHEMES: Record<SinkType, readonly string[]> = {
  stdout: ['stdout:'], syslog: ['udp:', 'tcp:', 'tls:'], email: ['smtp:', 'smtps:'],
  webhook: ['https:', 'http:'], slack: ['https:', 'http:'], teams: ['https:', 'http:'], pagerduty: ['https:', 'http:'],
};

// ---- schemas ----

const str = (max: number, min = 1) => ({ type: 'string', minLength: min, maxLength: max }) as const;
const nullable = (s: object) => ({ anyOf: [s, { type: 'null' }] });
const filtersSchema = {
  type: 'object', additionalProperties: false, properties: {
    min_severity: { type: 'string', enum: [...SEVERITIES] },
    rule_tags: { type: 'array', maxItems: 50, items: str(200) }, mitre_tactics: { type: 'array', maxItems: 20, items: str(100) },
    rule_ids: { type: 'array', maxItems: 100, items: str(256) },
  },
} as const;
const optionsSchema = {
  type: 'object', additionalProperties: false, properties: {
    from: str(320), to: { type: 'array', minItems: 1, maxItems: 20, items: str(320) }, username: str(256), starttls: { type: 'boolean' },
    ca_pem: str(65_536), rate_per_minute: { type: 'integer', minimum: 1, maximum: 100_000 }, repeat_window_s: { type: 'integer', minimum: 0, maximum: 86_400 },
  },
} as const;
const writable = {
  name: str(200), url: str(2048), format: { type: 'string', enum: [...SINK_FORMATS] }, filters: filtersSchema,
  template: nullable(str(2000)), options: optionsSchema, secret: nullable(str(512, 16)), enabled: { type: 'boolean' },
} as const;
const createBody = {
  type: 'object', additionalProperties: false, required: ['name'],
  properties: { ...writable, type: { type: 'string', enum: [...SINK_TYPES] }, secret: str(512, 16) },
} as const;
const patchBody = { type: 'object', additionalProperties: false, minProperties: 1, properties: writable } as const;
const isoOrNull = nullable({ type: 'string', format: 'date-time' });
const healthSchema = {
  type: 'object', additionalProperties: false,
  required: ['last_success_at', 'last_error_at', 'last_error', 'breaker', 'breaker_until', 'failures', 'queued', 'dead'],
  properties: {
    last_success_at: isoOrNull, last_error_at: isoOrNull, last_error: nullable({ type: 'string' }),
    breaker: { type: 'string', enum: ['closed', 'open', 'half_open'] }, breaker_until: isoOrNull,
    failures: { type: 'integer' }, queued: { type: 'integer' }, dead: { type: 'integer' },
  },
} as const;
const sinkSchema = {
  type: 'object', additionalProperties: false,
  required: ['id', 'name', 'type', 'url', 'format', 'filters', 'template', 'options', 'has_secret', 'enabled', 'created_by', 'created_at', 'updated_at', 'health'],
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, type: { type: 'string', enum: [...SINK_TYPES] }, url: { type: 'string' },
    format: { type: 'string', enum: [...SINK_FORMATS] }, filters: filtersSchema, template: nullable({ type: 'string' }), options: optionsSchema,
    has_secret: { type: 'boolean' }, enabled: { type: 'boolean' }, created_by: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' }, updated_at: { type: 'string', format: 'date-time' }, health: healthSchema,
  },
} as const;
const deliverySchema = {
  type: 'object', additionalProperties: false,
  required: ['id', 'sink_id', 'alert_id', 'state', 'attempts', 'next_attempt_at', 'created_at', 'delivered_at', 'last_error'],
  properties: {
    id: { type: 'string' }, sink_id: { type: 'string' }, sink_name: { type: 'string' }, sink_type: { type: 'string' }, alert_id: { type: 'string' },
    alert_title: { type: 'string' }, host_name: { type: 'string' },
    state: { type: 'string', enum: ['pending', 'delivered', 'dead', 'suppressed'] }, attempts: { type: 'integer' },
    next_attempt_at: isoOrNull, created_at: { type: 'string', format: 'date-time' }, delivered_at: isoOrNull, last_error: nullable({ type: 'string' }),
  },
} as const;
const idParams = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: str(64) } } as const;

// ---- views ----

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const sinkJson = (s: AlertSinkView) => ({
  id: s.id, name: s.name, type: s.type, url: s.url, format: s.format, filters: s.filters, template: s.template, options: s.options,
  has_secret: s.hasSecret, enabled: s.enabled, created_by: s.createdBy, created_at: new Date(s.createdAt).toISOString(),
  updated_at: new Date(s.updatedAt || s.createdAt).toISOString(),
  health: {
    last_success_at: iso(s.health.lastSuccessAt), last_error_at: iso(s.health.lastErrorAt), last_error: s.health.lastError,
    breaker: s.health.breaker, breaker_until: iso(s.health.breakerUntil), failures: s.health.failures, queued: s.health.queued, dead: s.health.dead,
  },
});

/** The alert's title and host name as queued (so a list of deliveries names them); empty when unreadable. */
function titleAndHost(payload: string): { alert_title: string; host_name: string } {
  try {
    const f = factsOf(JSON.parse(payload) as AlertDoc);
    return { alert_title: f.ruleTitle, host_name: f.hostName };
  } catch {
    return { alert_title: '', host_name: '' };
  }
}

const deliveryJson = (d: Delivery, sink?: { name: string; type: string }) => ({
  id: d.id, sink_id: d.sinkId, ...(sink ? { sink_name: sink.name, sink_type: sink.type } : {}), alert_id: d.alertId, ...titleAndHost(d.payload), state: d.state,
  attempts: d.attempts, next_attempt_at: d.state === 'pending' ? iso(d.nextAt) : null, created_at: new Date(d.createdAt).toISOString(),
  delivered_at: iso(d.deliveredAt), last_error: d.lastError,
});

// ---- validation ----

/** The sink's URL for its type, else a precise 400. */
function targetUrl(type: SinkType, raw: string | undefined): URL {
  if (type === 'stdout') return new URL('stdout:');
  if (raw === undefined && type === 'pagerduty') return new URL(PAGERDUTY_EVENTS);
  if (raw === undefined) throw new HttpError(400, `url is required for a ${type} sink`, 'invalid_url');
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new HttpError(400, 'url is not a URL', 'invalid_url');
  }
  if (!SCHEMES[type].includes(u.protocol)) throw new HttpError(400, `url of a ${type} sink must be ${SCHEMES[type].map((s) => `${s}//`).join(', ')}`, 'invalid_url');
  if (u.username || u.password) throw new HttpError(400, 'url must not carry user credentials (use secret, and options.username for e-mail)', 'invalid_url');
  if (type === 'syslog' && !u.port) throw new HttpError(400, 'a syslog url needs a port (e.g. tcp://siem.example.com:6514)', 'invalid_url');
  if (!u.hostname) throw new HttpError(400, 'url needs a host', 'invalid_url');
  return u;
}

/** Refuses (400) a URL whose host is or resolves to an address the SSRF guard forbids, or that does not resolve. */
async function guardTarget(u: URL): Promise<void> {
  if (u.protocol === 'stdout:') return;
  try {
    await checkWebhookTarget(u);
  } catch (err) {
    if (err instanceof TargetRefusedError) throw new HttpError(400, err.message, 'forbidden_target');
    throw new HttpError(400, `url host ${u.hostname} does not resolve`, 'invalid_url');
  }
}

function checkFormat(type: SinkType, format: SinkFormat): SinkFormat {
  if (!FORMATS[type].includes(format)) throw new HttpError(400, `a ${type} sink takes format ${FORMATS[type].join(', ')}`, 'invalid_format');
  return format;
}

function checkTemplate(template: string | null | undefined): void {
  const unknown = template ? unknownTemplateFields(template) : [];
  if (unknown.length) throw new HttpError(400, `unknown template field {{${unknown[0]}}} (one of ${TEMPLATE_NAMES.join(', ')})`, 'invalid_template');
}

function checkSettings(type: SinkType, options: SinkOptions, secret: string | null): void {
  if (type === 'email' && (!options.from || !options.to?.length)) throw new HttpError(400, 'an email sink needs options.from and options.to', 'invalid_options');
  if (type === 'email' && options.username && !secret) throw new HttpError(400, 'options.username needs the SMTP password as secret', 'invalid_options');
  if (type === 'pagerduty' && !secret) throw new HttpError(400, 'a pagerduty sink needs its routing key as secret', 'invalid_options');
}

/** A sample alert for the test button: every field a format carries, clearly marked as a test. */
function sampleAlert(tenantId: string): AlertDoc {
  const now = new Date().toISOString();
  return {
    id: 'vigil-test-alert', tenant_id: tenantId, host_id: 'test-host',
    rule: { id: 'vigil-test', title: 'Vigil test alert (sink check)', author: 'Vigil', level: 'low', description: 'Sent from the alert-sink test button.' },
    techniques: [{ id: 'T1059.004', name: 'Unix Shell', tactics: ['Execution'] }],
    events: [{ host: { hostname: 'test-host.example' }, user: { name: 'analyst' }, process: { command_line: '/bin/sh -c echo vigil-test' },
      file: { path: '/tmp/vigil-test' }, destination: { ip: '192.0.2.10', port: 443 } }],
    first_seen: now, last_seen: now, occurrences: 1, process: { command_line: '/bin/sh -c echo vigil-test', executable: '/bin/sh', pid: 4242, user_name: 'analyst' },
  };
}

export interface AlertSinkBackends {
  store: AlertSinkStore;
  outbox: OutboxStore;
  dispatcher: AlertDispatcher;
}

export function alertSinkRoutes(api: FastifyInstance, o: ApiOptions): void {
  const b = o.alertSinks;
  if (!b) return;
  const { store, outbox, dispatcher } = b;
  const found = async (tenantId: string, id: string) => (await store.view(tenantId, id)) ?? Promise.reject(notFound('alert sink'));

  api.get('/alert-sinks', {
    config: ACCESS,
    schema: { response: { 200: { type: 'object', additionalProperties: false, required: ['alert_sinks'], properties: { alert_sinks: { type: 'array', items: sinkSchema } } } } },
  }, async (req) => ({ alert_sinks: (await store.list(req.principal!.tenantId)).map(sinkJson) }));

  api.post<{ Body: { name: string; type?: SinkType; url?: string; format?: SinkFormat; filters?: object; template?: string | null; options?: SinkOptions; secret?: string; enabled?: boolean } }>('/alert-sinks', {
    config: ACCESS, bodyLimit: 96 * 1024,
    schema: { body: createBody, response: { 201: sinkSchema } },
  }, async (req, reply) => {
    const p = req.principal!;
    const type = req.body.type ?? 'webhook';
    if ((await store.forTenant(p.tenantId)).length >= MAX_SINKS_PER_TENANT) throw new HttpError(409, `at most ${MAX_SINKS_PER_TENANT} alert sinks per tenant`, 'too_many_sinks');
    const url = targetUrl(type, req.body.url);
    const format = checkFormat(type, req.body.format ?? FORMATS[type][0]);
    checkTemplate(req.body.template);
    const options = req.body.options ?? {};
    checkSettings(type, options, req.body.secret ?? null);
    if (!o.allowPrivateAlertSinks) await guardTarget(url);
    const sink = await store.create({
      tenantId: p.tenantId, name: req.body.name, type, url: url.toString(), format, filters: req.body.filters ?? {}, template: req.body.template ?? null,
      options, secret: req.body.secret ?? null, enabled: req.body.enabled ?? true, createdBy: p.subject, createdAt: Date.now(),
    });
    req.auditDetail = { sink: sink.id, type };
    return reply.code(201).send(sinkJson((await store.view(p.tenantId, sink.id))!));
  });

  api.get<{ Params: { id: string } }>('/alert-sinks/:id', {
    config: ACCESS, schema: { params: idParams, response: { 200: sinkSchema } },
  }, async (req) => sinkJson(await found(req.principal!.tenantId, req.params.id)));

  api.patch<{ Params: { id: string }; Body: SinkPatch & { url?: string } }>('/alert-sinks/:id', {
    config: ACCESS, bodyLimit: 96 * 1024, schema: { params: idParams, body: patchBody, response: { 200: sinkSchema } },
  }, async (req) => {
    const p = req.principal!;
    const current = await store.get(p.tenantId, req.params.id);
    if (!current) throw notFound('alert sink');
    const patch: SinkPatch = { ...req.body };
    if (req.body.url !== undefined) {
      const url = targetUrl(current.type, req.body.url);
      if (!o.allowPrivateAlertSinks) await guardTarget(url);
      patch.url = url.toString();
    }
    if (req.body.format !== undefined) checkFormat(current.type, req.body.format);
    checkTemplate(req.body.template);
    checkSettings(current.type, req.body.options ?? current.options, req.body.secret === undefined ? current.secret : req.body.secret);
    await store.update(p.tenantId, current.id, patch, Date.now());
    req.auditDetail = { sink: current.id, changed: Object.keys(req.body) };
    return sinkJson((await store.view(p.tenantId, current.id))!);
  });

  api.delete<{ Params: { id: string } }>('/alert-sinks/:id', {
    config: ACCESS, schema: { params: idParams, response: { 204: { type: 'null' } } },
  }, async (req, reply) => {
    if (!await store.delete(req.principal!.tenantId, req.params.id)) throw notFound('alert sink');
    return reply.code(204).send();
  });

  api.post<{ Params: { id: string } }>('/alert-sinks/:id/test', {
    config: ACCESS,
    schema: { params: idParams, response: { 200: { type: 'object', additionalProperties: false, required: ['ok', 'ms'], properties: { ok: { type: 'boolean' }, ms: { type: 'integer' }, error: { type: 'string' } } } } },
  }, async (req) => {
    const p = req.principal!;
    const sink = await store.get(p.tenantId, req.params.id);
    if (!sink) throw notFound('alert sink');
    const r = await dispatcher.test(sink, sampleAlert(p.tenantId));
    req.auditDetail = { sink: sink.id, ok: r.ok };
    return r;
  });

  api.get<{ Params: { id: string }; Querystring: { state?: Delivery['state']; limit?: number } }>('/alert-sinks/:id/deliveries', {
    config: ACCESS,
    schema: {
      params: idParams,
      querystring: { type: 'object', additionalProperties: false, properties: { state: { type: 'string', enum: ['pending', 'delivered', 'dead', 'suppressed'] }, limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 } } },
      response: { 200: { type: 'object', additionalProperties: false, required: ['deliveries'], properties: { deliveries: { type: 'array', items: deliverySchema } } } },
    },
  }, async (req) => {
    const p = req.principal!;
    const sink = await found(p.tenantId, req.params.id);
    return { deliveries: (await outbox.forSink(p.tenantId, sink.id, req.query.state, req.query.limit ?? 100)).map((d) => deliveryJson(d, sink)) };
  });

  api.post<{ Params: { id: string }; Body: { ids?: string[] } | undefined }>('/alert-sinks/:id/replay', {
    config: ACCESS,
    schema: {
      params: idParams,
      body: { type: 'object', additionalProperties: false, properties: { ids: { type: 'array', minItems: 1, maxItems: 1000, items: str(64) } } },
      response: { 200: { type: 'object', additionalProperties: false, required: ['replayed'], properties: { replayed: { type: 'integer' } } } },
    },
  }, async (req) => {
    const p = req.principal!;
    const sink = await found(p.tenantId, req.params.id);
    const replayed = await outbox.replay(p.tenantId, sink.id, req.body?.ids, Date.now());
    req.auditDetail = { sink: sink.id, replayed };
    return { replayed };
  });

  api.get<{ Params: { id: string } }>('/alerts/:id/deliveries', {
    config: { access: 'alerts:read' },
    schema: {
      params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: str(128) } },
      response: { 200: { type: 'object', additionalProperties: false, required: ['deliveries'], properties: { deliveries: { type: 'array', items: deliverySchema } } } },
    },
  }, async (req) => {
    const tenantId = req.principal!.tenantId;
    if (o.alerts && !(await o.alerts.get(tenantId, req.params.id))) throw notFound('alert');
    const sinks = new Map((await store.forTenant(tenantId)).map((s) => [s.id, s]));
    return { deliveries: (await outbox.forAlert(tenantId, req.params.id)).map((d) => deliveryJson(d, sinks.get(d.sinkId))) };
  });
}
