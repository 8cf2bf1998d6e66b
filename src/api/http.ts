// Shared pieces of the REST API: the authenticated principal on each request, the per-route declarations
// (permission, ETag, stream ticket) that the hooks of server.ts enforce, RFC 9457 problem details, the schema
// fragments every route uses for limits and times, and parsing of values that Fastify's schemas cannot check alone.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Permission } from '../identity/permissions.ts';
import type { Principal } from '../identity/principal.ts';

export type { Principal };

/**
 * Who may call a route: a permission of src/identity/permissions.ts, 'authenticated' (any valid credential,
 * e.g. /auth/me) or 'public' (no credential: login, refresh). Every route under /api/v1 declares one.
 */
export type RouteAccess = Permission | 'authenticated' | 'public';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** The credential inside a redeemed stream ticket (server.ts), authenticated like a header's. */
    ticketCredential?: string;
    /** What a state-changing call changed, added by its route to the call's ledger entry (`details`). */
    auditDetail?: { [key: string]: import('../ledger/canonical.ts').JsonValue };
  }
  interface FastifyContextConfig {
    access?: RouteAccess;
    /** Answer with an ETag and 304 to a matching If-None-Match (lists that clients poll). */
    etag?: boolean;
    /** Also accept a single-use `?ticket=` of POST /stream/ticket (EventSource cannot send headers; never a credential). */
    streamTicket?: boolean;
  }
}

export function problem(reply: FastifyReply, status: number, title: string, detail?: string, extra: Record<string, unknown> = {}) {
  return reply.code(status).type('application/problem+json').send({ type: 'about:blank', title, status, detail, ...extra });
}

/** An error a route throws to answer a precise 4xx problem (the error handler renders it). */
export class HttpError extends Error {
  override name = 'HttpError';
  readonly statusCode: number;
  readonly code?: string;

  constructor(statusCode: number, message: string, code?: string) {
    super(message);
    this.statusCode = statusCode;
    if (code !== undefined) this.code = code;
  }
}

export const notFound = (what: string) => new HttpError(404, `no such ${what}`, 'not_found');

/**
 * The times the API accepts (query `from`, `to`, `at`, bodies' `until`, `expires_at`, times inside cursors): ISO 8601
 * date-times from 1900 to 2299 (the range ClickHouse's DateTime64 stores; JavaScript's own reaches year 275760,
 * which the stores cannot take).
 */
export const MIN_TIME_MS = Date.UTC(1900, 0, 1);
export const MAX_TIME_MS = Date.UTC(2300, 0, 1) - 1;
const ISO_TIME = '^\\d{4}-\\d{2}-\\d{2}(?:[Tt ]\\d{2}:\\d{2}(?::\\d{2}(?:\\.\\d{1,9})?)?(?:[Zz]|[+-]\\d{2}:?\\d{2})?)?$';

/** Schema of a time parameter; parseTime checks its form and range (with a message that names the parameter). */
export const isoTimeSchema = { type: 'string', maxLength: 40, description: 'ISO 8601 date-time, 1900-01-01 to 2299-12-31' } as const;

/**
 * Schema of a whole-number parameter from `min` to `max`. Ajv coerces the query text 'Infinity' or '1e309' to
 * Infinity and then skips minimum and maximum for it (they only check finite numbers); the input guard of
 * server.ts refuses non-finite numbers after validation, so routes see finite, bounded values only.
 */
export const intSchema = (min: number, max: number) => ({ type: 'integer', minimum: min, maximum: max }) as const;

/** The time `v` (ISO 8601, 1900–2299) as a Date; a precise 400 otherwise. */
export function parseTime(v: string | undefined, name: string): Date | undefined {
  if (v === undefined) return undefined;
  const t = new RegExp(ISO_TIME).test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw new HttpError(400, `${name} is not an ISO 8601 time`, 'invalid_request');
  if (t < MIN_TIME_MS || t > MAX_TIME_MS) throw new HttpError(400, `${name} is out of range (1900-01-01 to 2299-12-31)`, 'invalid_request');
  return new Date(t);
}

/** Whether `v` is an ISO 8601 time the API accepts (for times inside cursors). */
export function isApiTime(v: unknown): v is string {
  if (typeof v !== 'string' || !new RegExp(ISO_TIME).test(v)) return false;
  const t = Date.parse(v);
  return t >= MIN_TIME_MS && t <= MAX_TIME_MS;
}

/** How deep a body, query or path may nest objects and arrays (JSON parses 10,000 levels; nothing needs 100). */
export const MAX_INPUT_DEPTH = 100;

const pathOf = (at: string, key: string | number) =>
  typeof key === 'number' ? `${at}[${key}]` : /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(key) ? `${at}.${key}` : `${at}[…]`;

/**
 * The first thing in a parsed input (`where`: body, querystring, params) that no store can take, as a precise
 * message: a string or key with a lone UTF-16 surrogate, a number that is not finite, nesting deeper than
 * MAX_INPUT_DEPTH. Iterative, so any depth is safe to inspect.
 */
export function inputProblem(input: unknown, where: string): { code: string; message: string } | undefined {
  const stack: [unknown, string, number][] = [[input, where, 0]];
  while (stack.length > 0) {
    const [v, at, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (!v.isWellFormed()) return { code: 'invalid_unicode', message: `${at} contains a lone UTF-16 surrogate (not valid Unicode)` };
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { code: 'invalid_number', message: `${at} must be a finite number` };
    } else if (typeof v === 'object' && v !== null && !ArrayBuffer.isView(v)) {
      if (depth >= MAX_INPUT_DEPTH) return { code: 'too_deep', message: `${where} nests deeper than ${MAX_INPUT_DEPTH} levels` };
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], pathOf(at, i), depth + 1]);
      } else {
        for (const [k, x] of Object.entries(v)) {
          if (!k.isWellFormed()) return { code: 'invalid_unicode', message: `a key in ${at} contains a lone UTF-16 surrogate (not valid Unicode)` };
          stack.push([x, pathOf(at, k), depth + 1]);
        }
      }
    }
  }
  return undefined;
}

/** The request context recorded with identity and ledger entries. */
export const requestContext = (req: { id: string }) => ({ requestId: req.id });

/**
 * The credential of a request: `Authorization: Bearer …`, or on GET /stream the one inside a redeemed single-use
 * `?ticket=` (src/api/stream-ticket.ts). Never a credential from the URL: URLs end up in logs and histories.
 */
export function credentialOf(req: FastifyRequest): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  return m ? m[1] : req.ticketCredential;
}

/** Epoch milliseconds as ISO 8601, null stays null. */
export const isoOrNull = (ms: number | null | undefined): string | null => (ms == null ? null : new Date(ms).toISOString());
