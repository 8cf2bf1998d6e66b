// Enrolment-token routes: an admin creates a token (expiry, use limit) that agents exchange for a
// client certificate (the secret is shown once and only its hash is stored), lists and revokes them.
// A new token comes with what a new host needs to enrol: the agents' endpoint as agents dial it, the CA
// certificate (public) and a shell command that writes the CA to a file and starts the agent with both.

import type { FastifyInstance } from 'fastify';
import { issueEnrollmentToken } from '../../stores/metadata/enrollment-tokens.ts';
import type { EnrollmentToken } from '../../stores/metadata/types.ts';
import { notFound } from '../http.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';

export function enrollmentRoutes(api: FastifyInstance, o: ApiOptions): void {
  tokenAdminRoutes(api, o);
  api.post<{ Body: { ttl_seconds?: number; max_uses?: number | null } }>('/enrollment-tokens', {
    config: { access: 'agents:manage' },
    schema: { body: { type: 'object', additionalProperties: false, properties: {
      ttl_seconds: { type: 'integer', minimum: 60, maximum: 30 * 86_400 },
      max_uses: { type: ['integer', 'null'], minimum: 1, maximum: 1_000_000 } } }, response: answers({ 201: ref('EnrollmentTokenCreated') }) },
  }, async (req, reply) => {
    const body = req.body ?? {};
    const t = await issueEnrollmentToken(o.metadata, req.principal!.tenantId, (body.ttl_seconds ?? 3600) * 1000, body.max_uses === undefined ? 1 : body.max_uses);
    const endpoint = o.agentEndpoint ?? null;
    const caPem = o.agentCaPem ?? null;
    return reply.code(201).send({
      id: t.id, token: t.token, expires_at: new Date(t.expiresAt).toISOString(), max_uses: t.maxUses,
      agent_endpoint: endpoint, ca_pem: caPem, install_command: endpoint && caPem ? installCommand(endpoint, caPem, t.token) : null,
    });
  });
}

/** A word for a POSIX shell, quoted: single quotes, each `'` written as `'\''`. */
export const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The command that enrols and starts an agent on a new host, run from a directory where `npx vigil` is Vigil (a
 * Vigil checkout after `bash scripts/install.sh`): writes the CA certificate to vigil-ca.pem, then starts the agent
 * with the endpoint, that file and the token (the agent keeps its identity in ./agent-data; the token is needed once).
 */
export function installCommand(endpoint: string, caPem: string, token: string): string {
  const pem = caPem.endsWith('\n') ? caPem : `${caPem}\n`;
  return `printf '%s' ${shellQuote(pem)} > vigil-ca.pem && npx vigil agent --server ${shellQuote(endpoint)} --ca vigil-ca.pem --token ${shellQuote(token)}`;
}

const tokenJson = (t: EnrollmentToken) => ({
  id: t.id, created_at: new Date(t.createdAt).toISOString(), expires_at: new Date(t.expiresAt).toISOString(),
  max_uses: t.maxUses, uses: t.uses, revoked: t.revoked,
});

function tokenAdminRoutes(api: FastifyInstance, o: ApiOptions): void {
  api.get('/enrollment-tokens', { config: { access: 'agents:manage' }, schema: { response: answers({ 200: ref('EnrollmentTokenList') }) } },
    async (req) => ({ enrollment_tokens: (await o.metadata.listEnrollmentTokens(req.principal!.tenantId)).map(tokenJson) }));

  api.post<{ Params: { id: string } }>('/enrollment-tokens/:id/revoke', {
    config: { access: 'agents:manage' },
    schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } }, response: answers({ 204: null }) },
  }, async (req, reply) => {
    if (!(await o.metadata.revokeEnrollmentToken(req.principal!.tenantId, req.params.id))) throw notFound('enrolment token');
    return reply.code(204).send();
  });
}
