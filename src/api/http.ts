// Shared pieces of the REST API: the authenticated principal on each request, the per-route declarations
// (permission, ETag, query-string token) that the hooks of server.ts enforce, RFC 9457 problem details, and
// parsing of query values that Fastify's schemas cannot check alone.

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
  interface FastifyRequest { principal?: Principal }
  interface FastifyContextConfig {
    access?: RouteAccess;
    /** Answer with an ETag and 304 to a matching If-None-Match (lists that clients poll). */
    etag?: boolean;
    /** Also accept the credential as `?access_token=` (EventSource cannot send headers). */
    queryToken?: boolean;
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

export function parseTime(v: string | undefined, name: string): Date | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw new HttpError(400, `${name} is not an ISO 8601 time`);
  return d;
}

/** The request context recorded with identity and ledger entries. */
export const requestContext = (req: { id: string }) => ({ requestId: req.id });

/** The credential of a request: `Authorization: Bearer …`, or `?access_token=` on routes that allow it. */
export function credentialOf(req: FastifyRequest): string | undefined {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (m) return m[1];
  if (!req.routeOptions.config.queryToken) return undefined;
  const q = (req.query as Record<string, unknown> | undefined)?.access_token;
  return typeof q === 'string' && q !== '' ? q : undefined;
}

/** Epoch milliseconds as ISO 8601, null stays null. */
export const isoOrNull = (ms: number | null | undefined): string | null => (ms == null ? null : new Date(ms).toISOString());
