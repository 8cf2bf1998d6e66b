// Shared pieces of the REST API: the authenticated principal on each request, RFC 9457 problem details,
// and parsing of query values that Fastify's schemas cannot check alone.

import type { FastifyReply } from 'fastify';

export interface Principal { keyId: string; tenantId: string; role: string }

declare module 'fastify' {
  interface FastifyRequest { principal?: Principal }
}

export function problem(reply: FastifyReply, status: number, title: string, detail?: string) {
  return reply.code(status).type('application/problem+json').send({ type: 'about:blank', title, status, detail });
}

export function parseTime(v: string | undefined, name: string): Date | undefined {
  if (v === undefined) return undefined;
  const d = new Date(v);
  if (Number.isNaN(d.getTime())) throw Object.assign(new Error(`${name} is not an ISO 8601 time`), { statusCode: 400 });
  return d;
}
