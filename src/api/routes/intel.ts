// Threat-intelligence lists of the caller's tenant (docs/intel.md): list, read, create, delete. A list is uploaded
// content (`{name, format, content}`: parsed here, so a document that is not its format is a 400 and the counts are
// known at once) or a URL polled on a schedule (`{name, format, url, poll_interval_seconds}`: checked against the SSRF
// guard now, fetched by the API processes' poller at once and then every interval). The pipeline's matching
// processes load new versions within seconds (hot reload). Reading needs rules:read, changing rules:write.

import type { FastifyInstance } from 'fastify';
import { checkWebhookTarget, TargetRefusedError } from '../../alerts/target-guard.ts';
import { INTEL_FORMATS, IntelParseError, parseFeed, type IntelFormat } from '../../intel/parse.ts';
import { IntelListExistsError, type IntelListRecord, type SqlIntelStore } from '../../stores/intel/sql-intel-store.ts';
import { HttpError, notFound } from '../http.ts';
import type { ApiOptions } from '../server.ts';

/** What the intel routes need: the store, the poller to run at once, and the SSRF guard's setting. */
export interface IntelApi {
  store: SqlIntelStore;
  pollNow(): void;
  allowPrivateUrls: boolean;
}

export const MAX_LISTS_PER_TENANT = 50;
/** Uploaded content: a million indicators as CSV or STIX fit. */
export const MAX_CONTENT_BYTES = 192 * 1024 * 1024;
export const MIN_POLL_SECONDS = 60;
export const MAX_POLL_SECONDS = 7 * 86_400;
const DEFAULT_CONFIDENCE = 50;

const iso = (ms: number | null): string | null => (ms == null ? null : new Date(ms).toISOString());

export function intelListView(l: IntelListRecord) {
  return {
    id: l.id, name: l.name, format: l.format, source: l.url ? 'url' : 'upload', url: l.url, poll_interval_seconds: l.pollSeconds,
    default_confidence: l.defaultConfidence, version: l.version, indicators: l.indicators, rejected: l.rejected,
    last_load_at: iso(l.lastLoadAt), last_error: l.lastError, next_poll_at: iso(l.url ? l.nextPollAt : null),
    created_by: l.createdBy, created_at: iso(l.createdAt)!,
  };
}

const nullableString = { type: ['string', 'null'] } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;
const listSchema = {
  type: 'object', additionalProperties: false,
  required: ['id', 'name', 'format', 'source', 'url', 'poll_interval_seconds', 'default_confidence', 'version', 'indicators', 'rejected', 'last_load_at', 'last_error', 'next_poll_at', 'created_by', 'created_at'],
  properties: {
    id: { type: 'string' }, name: { type: 'string' }, format: { type: 'string', enum: [...INTEL_FORMATS] }, source: { type: 'string', enum: ['upload', 'url'] },
    url: nullableString, poll_interval_seconds: { type: ['integer', 'null'] }, default_confidence: { type: 'integer' },
    version: { type: 'integer', description: 'raised at every load of new content' },
    indicators: { type: 'integer', description: 'indicators loaded' }, rejected: { type: 'integer', description: 'entries that named no indicator Vigil matches' },
    last_load_at: nullableTime, last_error: { ...nullableString, description: 'the last polling failure (the content before it stays loaded)' },
    next_poll_at: nullableTime, created_by: { type: 'string' }, created_at: { type: 'string', format: 'date-time' },
  },
} as const;
const problemSchema = { type: 'object', additionalProperties: true, properties: { type: { type: 'string' }, title: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' }, code: { type: 'string' } } } as const;
const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema, 409: problemSchema, 413: problemSchema } as const;
const idParams = { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } } as const;

const createBody = {
  type: 'object', additionalProperties: false, required: ['name', 'format'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 }, format: { type: 'string', enum: [...INTEL_FORMATS] },
    content: { type: 'string', minLength: 1, description: 'the feed itself (one of content and url)' },
    url: { type: 'string', minLength: 1, maxLength: 2048, description: 'http(s) URL polled every poll_interval_seconds' },
    poll_interval_seconds: { type: 'integer', minimum: MIN_POLL_SECONDS, maximum: MAX_POLL_SECONDS },
    default_confidence: { type: 'integer', minimum: 0, maximum: 100, description: `for indicators without one (default ${DEFAULT_CONFIDENCE})` },
  },
} as const;

interface CreateBody { name: string; format: IntelFormat; content?: string; url?: string; poll_interval_seconds?: number; default_confidence?: number }

/** An http(s) URL without credentials whose host passes the SSRF guard (unless private targets are allowed), else a 400. */
async function feedUrl(raw: string, allowPrivate: boolean): Promise<URL> {
  let u: URL;
  try { u = new URL(raw); } catch { throw new HttpError(400, 'url is not a URL', 'invalid_url'); }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new HttpError(400, 'url must be http or https', 'invalid_url');
  if (u.username || u.password) throw new HttpError(400, 'url must not carry user credentials', 'invalid_url');
  if (allowPrivate) return u;
  try {
    await checkWebhookTarget(u);
  } catch (err) {
    if (err instanceof TargetRefusedError) throw new HttpError(400, err.message.replace('webhook host', 'feed host'), 'forbidden_target');
    throw new HttpError(400, `url host ${u.hostname} does not resolve`, 'invalid_url');
  }
  return u;
}

function parsedContent(format: IntelFormat, content: string) {
  try {
    const parsed = parseFeed(format, content);
    if (parsed.indicators.length === 0) throw new HttpError(400, `no indicator found in the ${format} content (${parsed.rejected} entries rejected)`, 'no_indicators');
    return parsed;
  } catch (err) {
    if (err instanceof IntelParseError) throw new HttpError(400, err.message, 'invalid_feed');
    throw err;
  }
}

export function intelRoutes(api: FastifyInstance, o: ApiOptions): void {
  const intel = o.intel;
  if (!intel) return;

  api.get('/intel/lists', {
    config: { access: 'rules:read', etag: true },
    schema: { response: { 200: { type: 'object', additionalProperties: false, required: ['lists'], properties: { lists: { type: 'array', items: listSchema } } }, ...errors } },
  }, async (req) => ({ lists: (await intel.store.list(req.principal!.tenantId)).map(intelListView) }));

  api.get<{ Params: { id: string } }>('/intel/lists/:id', {
    config: { access: 'rules:read' }, schema: { params: idParams, response: { 200: listSchema, ...errors } },
  }, async (req) => {
    const l = await intel.store.get(req.principal!.tenantId, req.params.id);
    if (!l) throw notFound('intel list');
    return intelListView(l);
  });

  api.post<{ Body: CreateBody }>('/intel/lists', {
    config: { access: 'rules:write' }, bodyLimit: MAX_CONTENT_BYTES + 64 * 1024,
    schema: { body: createBody, response: { 201: listSchema, ...errors } },
  }, async (req, reply) => {
    const p = req.principal!;
    const b = req.body;
    if ((b.content === undefined) === (b.url === undefined)) throw new HttpError(400, 'give exactly one of content and url', 'invalid_list');
    if (b.poll_interval_seconds !== undefined && b.url === undefined) throw new HttpError(400, 'poll_interval_seconds applies to url lists only', 'invalid_list');
    if ((await intel.store.list(p.tenantId)).length >= MAX_LISTS_PER_TENANT) throw new HttpError(409, `at most ${MAX_LISTS_PER_TENANT} intel lists per tenant`, 'too_many_lists');
    const url = b.url === undefined ? undefined : await feedUrl(b.url, intel.allowPrivateUrls);
    const parsed = b.content === undefined ? undefined : parsedContent(b.format, b.content);
    try {
      const l = await intel.store.create({
        tenantId: p.tenantId, name: b.name, format: b.format, url: url?.toString() ?? null, pollSeconds: url ? b.poll_interval_seconds ?? 3600 : null,
        defaultConfidence: b.default_confidence ?? DEFAULT_CONFIDENCE, createdBy: p.subject,
        loaded: parsed && { content: b.content!, indicators: parsed.indicators.length, rejected: parsed.rejected, at: Date.now() },
      });
      req.auditDetail = { list: l.id, name: l.name, format: l.format, indicators: l.indicators, url: l.url };
      if (url) intel.pollNow();
      return reply.code(201).send(intelListView(l));
    } catch (err) {
      if (err instanceof IntelListExistsError) throw new HttpError(409, err.message, 'list_exists');
      throw err;
    }
  });

  api.delete<{ Params: { id: string } }>('/intel/lists/:id', {
    config: { access: 'rules:write' }, schema: { params: idParams, response: { 204: { type: 'null' }, ...errors } },
  }, async (req, reply) => {
    if (!await intel.store.delete(req.principal!.tenantId, req.params.id)) throw notFound('intel list');
    return reply.code(204).send();
  });
}
