// Enrolment-token routes: an admin creates a token (expiry, use limit) that agents exchange for a
// client certificate; the secret is shown once and only its hash is stored.

import type { FastifyInstance } from 'fastify';
import { issueEnrollmentToken } from '../../server/enrollment-tokens.ts';
import { problem } from '../http.ts';
import type { ApiOptions } from '../server.ts';

export function enrollmentRoutes(api: FastifyInstance, o: ApiOptions): void {
  api.post<{ Body: { ttl_seconds?: number; max_uses?: number | null } }>('/enrollment-tokens', {
    schema: { body: { type: 'object', additionalProperties: false, properties: {
      ttl_seconds: { type: 'integer', minimum: 60, maximum: 30 * 86_400 },
      max_uses: { type: ['integer', 'null'], minimum: 1, maximum: 1_000_000 } } } },
  }, async (req, reply) => {
    if (req.principal!.role !== 'admin') return problem(reply, 403, 'Forbidden', 'creating enrolment tokens needs the admin role');
    const body = req.body ?? {};
    const t = await issueEnrollmentToken(o.metadata, req.principal!.tenantId, (body.ttl_seconds ?? 3600) * 1000, body.max_uses === undefined ? 1 : body.max_uses);
    return reply.code(201).send({ id: t.id, token: t.token, expires_at: new Date(t.expiresAt).toISOString(), max_uses: t.maxUses });
  });
}
