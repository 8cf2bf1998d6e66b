// Authentication routes: login (password, TOTP, lockout) → access JWT + rotating refresh token; refresh;
// logout (of the caller's own tokens only); who am I; TOTP enrolment and own password change, both with
// re-authentication (`current_password`, plus `totp`, the current code, when MFA is on). Refusals are 401 problems
// with the AuthError `code` (bad_credentials, reauth_required, mfa_required, mfa_invalid, locked + Retry-After,
// disabled, reuse_detected, …).

import type { FastifyInstance } from 'fastify';
import { credentialOf, requestContext } from '../http.ts';
import type { TokenPair } from '../../identity/auth-service.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';
import { TENANT_ID_PATTERN } from '../../identity/validate.ts';

const SMALL_BODY = 16 * 1024;
const secret = { type: 'string', minLength: 1, maxLength: 1024 } as const;
const totpCode = { type: 'string', pattern: '^[0-9]{6}$' } as const;
const SESSION = answers({ 200: ref('Session') });
const NONE = answers({ 204: null });

export function authRoutes(api: FastifyInstance, o: ApiOptions): void {
  const { auth, users, identity } = o.security;

  async function session(pair: TokenPair) {
    const p = pair.principal;
    const user = await identity.getUser(p.tenantId, p.userId!);
    return {
      access_token: pair.accessToken, refresh_token: pair.refreshToken, token_type: 'Bearer', expires_in: pair.expiresIn,
      user: { id: p.userId, email: user?.email ?? null, role: p.role, tenant_id: p.tenantId },
    };
  }

  api.post<{ Body: { email: string; password: string; totp?: string; tenant?: string } }>('/auth/login', {
    config: { access: 'public' }, bodyLimit: SMALL_BODY,
    schema: { body: { type: 'object', additionalProperties: false, required: ['email', 'password'], properties: {
      email: { type: 'string', minLength: 1, maxLength: 320 }, password: secret,
      totp: totpCode, tenant: { type: 'string', pattern: TENANT_ID_PATTERN, maxLength: 64 } } }, response: SESSION },
  }, async (req) => {
    const b = req.body;
    return session(await auth.login({ tenantId: b.tenant ?? o.defaultTenant ?? 'default', email: b.email, password: b.password, totp: b.totp }, requestContext(req)));
  });

  api.post<{ Body: { refresh_token: string } }>('/auth/refresh', {
    config: { access: 'public' }, bodyLimit: SMALL_BODY,
    schema: { body: { type: 'object', additionalProperties: false, required: ['refresh_token'], properties: { refresh_token: secret } }, response: SESSION },
  }, async (req) => session(await auth.refresh(req.body.refresh_token, requestContext(req))));

  api.post<{ Body: { refresh_token?: string } | undefined }>('/auth/logout', {
    config: { access: 'authenticated' }, bodyLimit: SMALL_BODY,
    schema: { body: { type: ['object', 'null'], additionalProperties: false, properties: { refresh_token: secret } }, response: NONE },
  }, async (req, reply) => {
    const accessToken = req.principal!.kind === 'user' ? credentialOf(req) : undefined;
    await auth.logout(req.principal!, { accessToken, refreshToken: req.body?.refresh_token }, requestContext(req));
    return reply.code(204).send();
  });

  api.get('/auth/me', { config: { access: 'authenticated' }, schema: { response: answers({ 200: ref('Me') }) } }, async (req) => {
    const p = req.principal!;
    const user = p.userId ? await identity.getUser(p.tenantId, p.userId) : undefined;
    return {
      subject: p.subject, kind: p.kind, user_id: p.userId ?? null, api_key_id: p.apiKeyId ?? null, email: user?.email ?? null,
      tenant_id: p.tenantId, role: p.role, permissions: p.permissions, mfa_enrolled: user ? user.totpSecret !== null : false,
      expires_at: p.expiresAt ? new Date(p.expiresAt).toISOString() : null,
    };
  });

  api.post('/auth/totp/enroll', { config: { access: 'authenticated' }, schema: { response: answers({ 200: ref('TotpEnrolment') }) } }, async (req) => users.beginTotpEnrolment(req.principal!));

  // `current_password` is not required by the schema so that its absence is the precise 401 reauth_required.
  api.post<{ Body: { secret: string; code: string; current_password?: string; totp?: string } }>('/auth/totp/confirm', {
    config: { access: 'authenticated' }, bodyLimit: SMALL_BODY,
    schema: { body: { type: 'object', additionalProperties: false, required: ['secret', 'code'], properties: {
      secret: { type: 'string', pattern: '^[A-Z2-7]{16,128}$' }, code: totpCode, current_password: secret, totp: totpCode } }, response: NONE },
  }, async (req, reply) => {
    const b = req.body;
    await users.confirmTotpEnrolment(req.principal!, { password: b.current_password, totp: b.totp }, b.secret, b.code, requestContext(req));
    return reply.code(204).send();
  });

  api.post<{ Body: { current_password: string; new_password: string; totp?: string } }>('/auth/password', {
    config: { access: 'authenticated' }, bodyLimit: SMALL_BODY,
    schema: { body: { type: 'object', additionalProperties: false, required: ['current_password', 'new_password'], properties: {
      current_password: secret, new_password: secret, totp: totpCode } }, response: NONE },
  }, async (req, reply) => {
    const b = req.body;
    await users.changeOwnPassword(req.principal!, { password: b.current_password, totp: b.totp }, b.new_password, requestContext(req));
    return reply.code(204).send();
  });
}
