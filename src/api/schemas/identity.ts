// Response schemas of identity (src/api/routes/auth.ts, users.ts, api-keys.ts, tenants.ts): sessions, the caller,
// users, API keys and tenants. No schema here has a place for a password, a hash or a TOTP secret, except the
// one-time answers that hand a new secret over (a new API key, a TOTP enrolment).

import { ROLES } from '../../identity/permissions.ts';
import { arrayOf, BOOLEAN, enumOf, INTEGER, named, nullable, object, page, ref, STRING, TIME } from './common.ts';

const ROLE = enumOf(ROLES);

export const Session = named('Session', 'A signed-in session: access JWT, rotating refresh token, the user.', object({
  access_token: STRING, refresh_token: STRING, token_type: { const: 'Bearer' }, expires_in: { ...INTEGER, description: 'seconds' },
  user: object({ id: STRING, email: nullable(STRING), role: ROLE, tenant_id: STRING }),
}));

export const Me = named('Me', 'The caller: who, in which tenant, with which role and permissions.', object({
  subject: STRING, kind: enumOf(['user', 'apikey']), user_id: nullable(STRING), api_key_id: nullable(STRING), email: nullable(STRING),
  tenant_id: STRING, role: ROLE, permissions: arrayOf(STRING), mfa_enrolled: BOOLEAN, expires_at: nullable(TIME),
}));

export const TotpEnrolment = named('TotpEnrolment', 'A new TOTP secret to confirm (POST /auth/totp/confirm).', object({
  secret: STRING, uri: { ...STRING, description: 'otpauth:// URI for an authenticator app' },
}));

export const User = named('User', 'A user of a tenant.', object({
  id: STRING, tenant_id: STRING, email: STRING, role: ROLE, disabled: BOOLEAN, mfa_enrolled: BOOLEAN, locked_until: nullable(TIME),
  created_at: nullable(TIME), updated_at: nullable(TIME),
}));

export const UserPage = named('UserPage', 'A page of users, by e-mail.', page('users', ref('User')));

const apiKeyProperties = {
  id: STRING, name: STRING, role: ROLE, created_by: STRING, created_at: nullable(TIME), expires_at: nullable(TIME), revoked_at: nullable(TIME),
  last_used_at: nullable(TIME),
};

export const ApiKey = named('ApiKey', 'A service-account API key (never its secret).', object(apiKeyProperties));

export const ApiKeyCreated = named('ApiKeyCreated', 'A new API key with its secret, shown this once.', object({ ...apiKeyProperties, key: STRING }));

export const ApiKeyPage = named('ApiKeyPage', 'A page of API keys, by creation.', page('api_keys', ref('ApiKey')));

export const Tenant = named('Tenant', 'A tenant.', object({ id: STRING, name: STRING, created_at: TIME }));

export const TenantPage = named('TenantPage', 'A page of tenants, by id.', page('tenants', ref('Tenant')));

export const TenantCreated = named('TenantCreated', 'A new tenant and its first admin, when one was asked for.', object({
  id: STRING, name: STRING, admin: nullable(ref('User')),
}));

export const IDENTITY_SCHEMAS = [Session, Me, TotpEnrolment, User, UserPage, ApiKey, ApiKeyCreated, ApiKeyPage, Tenant, TenantPage, TenantCreated];
