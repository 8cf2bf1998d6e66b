// The REST API server (Fastify 5). Owns the request pipeline every route under /api/v1 goes through:
//   onRequest  redeem a stream ticket (GET /stream only), authenticate (access JWT or API key → Principal; the
//              tenant comes from the credential only), rate-limit per user and per tenant (429 + Retry-After),
//              check the route's declared access (`config: { access: 'hosts:read' }`: a permission of
//              src/identity/permissions.ts);
//   preValidation / preHandler  the input guard: no lone UTF-16 surrogate, non-finite number or nesting deeper
//              than MAX_INPUT_DEPTH in a body, query or path (a precise 400, before any store or the ledger sees it);
//   onSend     ETag/304 on polled lists; record every state-changing call in the audit ledger.
// Errors are RFC 9457 problem details (AuthError codes kept as `code`): client input is always a 4xx (validation
// 400, body too large 413, unsupported media type 415), never a 5xx. The request log never holds a credential: the
// request serializer logs the path and query parameter names only, never their values or any header. The OpenAPI
// 3.1 document is generated from the route schemas and served at /api/openapi.json. Also /healthz and /readyz
// (nothing tenant-specific) and /metrics (Bearer scrape token only: src/metrics/registry.ts).

import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { AuthError } from '../identity/errors.ts';
import { MerkleProofError } from '../ledger/merkle.ts';
import { hasPermission } from '../identity/permissions.ts';
import type { RuleService } from '../detect/rule-service.ts';
import type { LiveProcessIndex } from '../tree/live-index.ts';
import type { LiveRisk } from '../risk/live.ts';
import type { AlertStore } from '../stores/alerts/types.ts';
import type { HuntLimits } from '../stores/events/hunt.ts';
import type { EventStore } from '../stores/events/types.ts';
import type { MetadataStore, PolicyRecord } from '../stores/metadata/types.ts';
import { metricsAuthorized, metricsText, registry } from '../metrics/registry.ts';
import { credentialOf, HttpError, inputProblem, problem, type RouteAccess } from './http.ts';
import { LiveFeed } from './live-feed.ts';
import { agentRoutes } from './routes/agents.ts';
import { alertSinkRoutes, type AlertSinkBackends } from './routes/alert-sinks.ts';
import { alertRoutes } from './routes/alerts.ts';
import { incidentRoutes } from './routes/incidents.ts';
import { intelRoutes, type IntelApi } from './routes/intel.ts';
import { dlpRoutes, type DlpApi } from './routes/dlp.ts';
import { aiUsageRoutes, type AiUsageApi } from './routes/ai-usage.ts';
import type { IncidentStore } from '../stores/incidents/types.ts';
import { apiKeyRoutes } from './routes/api-keys.ts';
import { authRoutes } from './routes/auth.ts';
import { consoleRoutes } from './routes/console.ts';
import { enrollmentRoutes } from './routes/enrollment.ts';
import { eventRoutes } from './routes/events.ts';
import { exceptionRoutes } from './routes/exceptions.ts';
import { hostRoutes } from './routes/hosts.ts';
import { processRoutes } from './routes/processes.ts';
import { responseRoutes } from './routes/response.ts';
import type { ResponseDispatcher } from '../response/dispatcher.ts';
import { huntRoutes } from './routes/hunt.ts';
import { policyRoutes } from './routes/policies.ts';
import { ruleRoutes } from './routes/rules.ts';
import { ledgerRoutes } from './routes/ledger.ts';
import { statsRoutes } from './routes/stats.ts';
import { streamRoutes } from './routes/stream.ts';
import { tenantRoutes } from './routes/tenants.ts';
import { userRoutes } from './routes/users.ts';
import type { ApiSecurity } from './security.ts';
import { addApiSchemas, componentName } from './schemas/index.ts';

/** A JSON answer as its handler gave it, before the route's response schema serialises it (ApiOptions.onAnswer). */
export interface AnswerSeen { method: string; route: string; status: number; contentType: string | undefined; payload: unknown; schema: unknown }

export interface ApiOptions {
  metadata: MetadataStore;
  events: EventStore;
  log: Logger;
  /** Identity, audit ledger and rate limits (src/api/security.ts). */
  security: ApiSecurity;
  /** Where alerts and host changes are published for GET /stream (one is made when absent). */
  liveFeed?: LiveFeed;
  /** Alerts (triage routes, and the aggregates of GET /stats/overview). */
  alerts?: AlertStore;
  /** Incidents: alerts grouped by lineage (incident routes, with `alerts`). */
  incidents?: IncidentStore;
  /** Detection rules (rule routes). */
  rules?: RuleService;
  /** The live processes per host, kept by the pipeline (embedded); without it the store answers. */
  liveProcesses?: LiveProcessIndex;
  hunt?: Partial<HuntLimits>;
  /** The tenant a login without `tenant` signs in to (default 'default'). */
  defaultTenant?: string;
  /** Milliseconds without a heartbeat after which a host counts as offline. */
  offlineAfterMs?: number;
  isConnected?: (hostId: string) => boolean;
  /** Response actions (isolate, kill, collect, …); without it those routes are absent. */
  response?: ResponseDispatcher;
  /** Told of each stored policy version (to push it to the tenant's connected agents). */
  onPolicyStored?: (p: PolicyRecord) => void;
  /** Told of each revoked agent (to cut its open stream). */
  onAgentRevoked?: (agentId: string) => void;
  /** Alert sinks per tenant, their outbox and dispatcher (alert-sink routes, GET /alerts/{id}/deliveries). */
  alertSinks?: AlertSinkBackends;
  /** Sinks may target loopback, private, link-local and metadata addresses (default false: refused, SSRF guard). */
  allowPrivateAlertSinks?: boolean;
  /** The Bearer token GET /metrics requires (data/metrics-token); without one /metrics refuses every scrape. */
  metricsToken?: string;
  /**
   * Told of every JSON answer before it is serialised, with the route's response schemas: serialisation drops what a
   * schema does not name, so tests (test/api/contract.test.ts) check the handlers' answers against them here.
   */
  onAnswer?: (answer: AnswerSeen) => void;
  /** The agents' gRPC endpoint as agents should dial it (HOST:PORT) and the CA certificate they trust (enrolment answers). */
  agentEndpoint?: string;
  agentCaPem?: string;
  /** Risk per host and user (seed 002 §11): GET /hosts/{id} breakdown, the dashboard's top hosts. */
  risk?: LiveRisk;
  /** Threat-intelligence lists (intel routes). */
  intel?: IntelApi;
  /** DLP data sets (dlp routes). */
  dlp?: DlpApi;
  /** AI-service usage: findings, the catalogue, the tenant's policy (ai-usage routes). */
  aiUsage?: AiUsageApi;
}

const API_PREFIX = '/api/v1';
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Access of a route that declares none: only administrators, until it declares its own. */
const UNDECLARED_ACCESS: RouteAccess = 'users:manage';
const ANONYMOUS_TENANT = '';

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  413: 'Content Too Large', 415: 'Unsupported Media Type', 422: 'Unprocessable Content', 429: 'Too Many Requests',
};

function outcomeOf(status: number): string {
  if (status < 400) return 'success';
  return status === 401 || status === 403 || status === 429 ? 'denied' : 'failure';
}

/** Codes of Fastify's own client errors (request parsing, routing), by their Fastify code. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large', FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type', FST_ERR_CTP_INVALID_TYPE: 'unsupported_media_type',
};

/**
 * One mapping of errors to problems. Client errors keep their 4xx status: schema validation (400 invalid_request),
 * Fastify's parsing errors (400 malformed JSON, 413 body too large — Fastify throws it as a RangeError, so status
 * comes before class here —, 414, 415), HttpError and AuthError. A RangeError or MerkleProofError without a status
 * is a value the client chose out of range (400). Anything else is the server's fault (500, logged, no detail).
 */
function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: Error & { statusCode?: number; code?: string; validation?: unknown }, req, reply) => {
    if (err instanceof AuthError) {
      if (err.retryAfterSeconds !== undefined) reply.header('retry-after', String(err.retryAfterSeconds));
      return problem(reply, err.status, TITLES[err.status] ?? 'Error', err.message, { code: err.code });
    }
    const clientStatus = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : undefined;
    if (err.validation) return problem(reply, 400, 'Bad Request', err.message, { code: 'invalid_request' });
    if (clientStatus !== undefined) {
      const fastify = typeof err.code === 'string' && err.code.startsWith('FST_');
      const code = fastify ? FASTIFY_CODES[err.code!] ?? 'invalid_request' : typeof err.code === 'string' ? err.code : 'invalid_request';
      return problem(reply, clientStatus, TITLES[clientStatus] ?? 'Bad Request', err.message, { code });
    }
    if (err instanceof RangeError || err instanceof MerkleProofError) return problem(reply, 400, 'Bad Request', err.message, { code: 'invalid_request' });
    const status = err.statusCode && err.statusCode >= 500 && err.statusCode < 600 ? err.statusCode : 500;
    req.log.error({ err }, 'request failed');
    return problem(reply, status, status === 503 ? 'Service Unavailable' : 'Internal Server Error', undefined, { request_id: req.id });
  });
  app.setNotFoundHandler((req, reply) => problem(reply, 404, 'Not Found', `no route ${req.method} ${req.url.split('?')[0]}`, { code: 'not_found' }));
}

/**
 * Refuses input no store can take, for every route, before its handler (and so before the ledger or a store sees
 * it): a lone UTF-16 surrogate in a string or key (JSON's `\ud800` escapes), a number that is not finite (JSON's
 * 1e309, or a query's `Infinity`, which Ajv coerces and then lets past minimum/maximum), nesting deeper than
 * MAX_INPUT_DEPTH. Bodies and queries are checked once parsed (preValidation); everything again after the schema
 * coerced it (preHandler: a body's "Infinity" or "1e309" where a number is expected becomes Infinity).
 */
function installInputGuard(app: FastifyInstance): void {
  const check = (parts: ('params' | 'query' | 'body')[]) => async (req: FastifyRequest) => {
    for (const part of parts) {
      const wrong = inputProblem(req[part], part === 'query' ? 'querystring' : part);
      if (wrong) throw new HttpError(400, wrong.message, wrong.code);
    }
  };
  app.addHook('preValidation', check(['params', 'query', 'body']));
  app.addHook('preHandler', check(['params', 'query', 'body']));
}

/** Names of query parameters whose values are logged: none (a value may be a credential, a ticket or personal data). */
function redactedUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const names = [...new URLSearchParams(url.slice(q + 1)).keys()].map((k) => `${encodeURIComponent(k.slice(0, 64))}=[REDACTED]`);
  return `${url.slice(0, q)}?${names.join('&')}`;
}

/**
 * What the request log records of a request (Fastify's `incoming request` line and every line that logs `req`):
 * method, path, the names of the query parameters, client address. Never a header (Authorization, Cookie) nor a
 * query value.
 */
export function requestLogView(req: FastifyRequest | IncomingMessage) {
  const r = req as FastifyRequest;
  return {
    method: req.method, url: redactedUrl(req.url ?? ''), host: r.host, remoteAddress: r.ip ?? req.socket?.remoteAddress,
    remotePort: req.socket?.remotePort,
  };
}

/**
 * GET /stream (`config: { streamTicket: true }`) without an Authorization header: redeems `?ticket=` once and
 * hands the credential inside it to authentication (credentialOf), which then checks it as it checks a header.
 */
function installStreamTickets(api: FastifyInstance, o: ApiOptions): void {
  api.addHook('onRequest', async (req: FastifyRequest) => {
    if (!req.routeOptions.config.streamTicket || req.headers.authorization !== undefined) return;
    const ticket = (req.query as Record<string, unknown> | undefined)?.ticket;
    if (typeof ticket === 'string' && ticket !== '') req.ticketCredential = await o.security.streamTickets.redeem(ticket);
  });
}

/** Authentication, rate limits and the route's declared access, in that order (401, then 429, then 403). */
function installAccessControl(api: FastifyInstance, o: ApiOptions): void {
  const { auth, limits } = o.security;
  api.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const access = req.routeOptions.config.access ?? UNDECLARED_ACCESS;
    if (access === 'public') {
      const rate = await limits.check(ANONYMOUS_TENANT, `ip:${req.ip}`);
      if (!rate.allowed) return tooMany(reply, rate.retryAfterSeconds);
      return;
    }
    const credential = credentialOf(req);
    if (!credential) return problem(reply, 401, 'Unauthorized', 'a credential is required: Authorization: Bearer <access token or API key>', { code: 'unauthenticated' });
    req.principal = await auth.authenticate(credential);
    const rate = await limits.check(req.principal.tenantId, req.principal.subject);
    if (!rate.allowed) return tooMany(reply, rate.retryAfterSeconds);
    if (access !== 'authenticated' && !hasPermission(req.principal.role, access)) {
      return problem(reply, 403, 'Forbidden', `role ${req.principal.role} lacks ${access}`, { code: 'forbidden' });
    }
  });
}

function tooMany(reply: FastifyReply, retryAfterSeconds: number) {
  reply.header('retry-after', String(retryAfterSeconds));
  return problem(reply, 429, 'Too Many Requests', `rate limit exceeded; retry in ${retryAfterSeconds} s`, { code: 'rate_limited' });
}

/**
 * Every state-changing call is appended to the ledger twice: as `started` before its handler runs (an
 * authenticated, authorised call whose record cannot be written is refused with 503 before it changes
 * anything, so no change ever lacks a record of who attempted it), and with its outcome before its answer
 * leaves (fail closed: 503 if it cannot be). Public routes (login, refresh) are recorded by the identity
 * service, which records before it changes anything.
 */
function installAudit(api: FastifyInstance, o: ApiOptions): void {
  const paramsOf = (req: FastifyRequest) => Object.fromEntries(Object.entries((req.params ?? {}) as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
  const unrecorded = new WeakSet<FastifyRequest>(); // refused because their `started` record failed: nothing to record after
  api.addHook('preHandler', async (req, reply) => {
    if (!STATE_CHANGING.has(req.method) || req.routeOptions.url === undefined || !req.principal) return;
    try {
      await o.security.ledger.record({
        actor: req.principal.subject, tenantId: req.principal.tenantId,
        action: `api.${req.method.toLowerCase()} ${req.routeOptions.url}`, outcome: 'started', requestId: req.id, detail: { params: paramsOf(req) },
      });
    } catch (err) {
      req.log.error({ err }, 'audit ledger append failed');
      unrecorded.add(req);
      return problem(reply, 503, 'Service Unavailable', 'the audit ledger could not record this call; nothing was changed', { code: 'audit_unavailable' });
    }
  });
  api.addHook('onSend', async (req, reply, payload) => {
    if (!STATE_CHANGING.has(req.method) || req.routeOptions.url === undefined) return payload;
    if (unrecorded.has(req)) return payload;
    const params = paramsOf(req);
    try {
      await o.security.ledger.record({
        actor: req.principal?.subject ?? 'anonymous', tenantId: req.principal?.tenantId ?? ANONYMOUS_TENANT,
        action: `api.${req.method.toLowerCase()} ${req.routeOptions.url}`, outcome: outcomeOf(reply.statusCode),
        requestId: req.id, detail: { status: reply.statusCode, params, ...req.auditDetail },
      });
      return payload;
    } catch (err) {
      req.log.error({ err }, 'audit ledger append failed');
      reply.code(503).type('application/problem+json');
      return JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, detail: 'the audit ledger could not record this call', code: 'audit_unavailable' });
    }
  });
}

/** Weak ETag over the body of routes that declare `etag: true`; 304 when the client already has it. */
function installEtags(api: FastifyInstance): void {
  api.addHook('onSend', async (req, reply, payload) => {
    if (req.method !== 'GET' || !req.routeOptions.config.etag || reply.statusCode !== 200 || typeof payload !== 'string') return payload;
    const etag = `W/"${createHash('sha256').update(payload).digest('base64url').slice(0, 27)}"`;
    reply.header('etag', etag);
    if (req.headers['if-none-match'] !== etag) return payload;
    reply.code(304);
    return '';
  });
}

function installAnswerWatch(app: FastifyInstance, onAnswer: (answer: AnswerSeen) => void): void {
  app.addHook('preSerialization', async (req, reply, payload) => {
    onAnswer({
      method: req.method, route: req.routeOptions.url ?? req.url, status: reply.statusCode, contentType: reply.getHeader('content-type') as string | undefined,
      payload, schema: req.routeOptions.schema?.response,
    });
    return payload;
  });
}

function installOpenApi(app: FastifyInstance): void {
  app.register(swagger, {
    refResolver: { buildLocalReference: componentName },
    openapi: {
      openapi: '3.1.0',
      info: { title: 'Vigil management API', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'access JWT or API key' } } },
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url, route }) => {
      const access = route.config?.access;
      const described = url.startsWith(API_PREFIX) ? { ...schema, description: `access: ${access ?? `${UNDECLARED_ACCESS} (undeclared)`}` } : schema;
      return { schema: access === 'public' ? { ...described, security: [] } : described, url };
    },
  });
  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
}

export function buildApi(o: ApiOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: o.log.child({}, { serializers: { req: requestLogView } }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024, genReqId: () => randomUUID(), requestIdHeader: false,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });
  const feed = o.liveFeed ?? new LiveFeed();
  addApiSchemas(app);
  // Answers leave as their handlers give them: the response schemas describe them (OpenAPI, the console's types) and
  // test/api/contract.test.ts holds the handlers to them, but serialising with them would silently drop a property a
  // schema lacks and is 3-4 times slower on event documents (docs/api.md, Contract).
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  if (o.onAnswer) installAnswerWatch(app, o.onAnswer);
  installErrorHandling(app);
  installInputGuard(app);
  installOpenApi(app);
  app.addHook('onSend', async (req, reply, payload) => {
    reply.header('x-request-id', req.id);
    return payload;
  });
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith(API_PREFIX) && route.config?.access === undefined) {
      o.log.warn({ method: route.method, url: route.url }, `route declares no access; only ${UNDECLARED_ACCESS} may call it`);
    }
  });

  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async () => ({ status: 'ready' }));
  app.get('/metrics', { schema: { hide: true } }, async (req, reply) => {
    if (!metricsAuthorized(req.headers.authorization, o.metricsToken)) {
      reply.header('www-authenticate', 'Bearer realm="metrics"');
      return problem(reply, 401, 'Unauthorized', 'metrics need Authorization: Bearer <the scrape token in the data directory\'s metrics-token>', { code: 'unauthenticated' });
    }
    return reply.type(registry.contentType).send(await metricsText());
  });
  consoleRoutes(app);

  app.register(async (api) => {
    installStreamTickets(api, o);
    installAccessControl(api, o);
    installEtags(api);
    installAudit(api, o);

    authRoutes(api, o);
    userRoutes(api, o);
    apiKeyRoutes(api, o);
    tenantRoutes(api, o);
    hostRoutes(api, o);
    processRoutes(api, o);
    agentRoutes(api, o);
    policyRoutes(api, o);
    enrollmentRoutes(api, o);
    eventRoutes(api, o);
    responseRoutes(api, o);
    huntRoutes(api, o);
    ledgerRoutes(api, o);
    statsRoutes(api, o);
    streamRoutes(api, { ...o, liveFeed: feed });
    alertRoutes(api, o);
    incidentRoutes(api, o);
    exceptionRoutes(api, o);
    alertSinkRoutes(api, o);
    ruleRoutes(api, o);
    intelRoutes(api, o);
    dlpRoutes(api, o);
    aiUsageRoutes(api, o);
  }, { prefix: API_PREFIX });

  return app;
}
