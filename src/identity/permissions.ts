// The one permission table of Vigil: every permission name, every role, and what each role may do. Tenant roles
// (admin, analyst, responder, viewer) act inside their own tenant; the super-admin belongs to the platform
// tenant and is the only role that manages tenants. Routes check permissions, never role names. Pure.

export const PERMISSIONS = [
  'hosts:read',
  'alerts:read',
  'alerts:triage',
  'rules:read',
  'rules:write',
  'ir:read',
  'ir:execute',
  'hunt:query',
  'agents:read',
  'agents:manage',
  'policies:read',
  'policies:write',
  'users:read',
  'users:manage',
  'apikeys:manage',
  'ledger:read',
  'tenants:manage',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const TENANT_ROLES = ['admin', 'analyst', 'responder', 'viewer'] as const;
export const SUPER_ADMIN = 'super-admin';
export const ROLES = [...TENANT_ROLES, SUPER_ADMIN] as const;
export type Role = (typeof ROLES)[number];

/** The tenant id of super-admins (platform scope); no customer tenant may use it. */
export const PLATFORM_TENANT = '_platform';

const VIEW: Permission[] = ['hosts:read', 'alerts:read', 'rules:read', 'ir:read', 'agents:read', 'policies:read'];

const TABLE: Record<Role, readonly Permission[]> = {
  viewer: VIEW,
  analyst: [...VIEW, 'alerts:triage', 'rules:write', 'hunt:query'],
  responder: [...VIEW, 'alerts:triage', 'ir:execute', 'hunt:query'],
  admin: PERMISSIONS.filter((p) => p !== 'tenants:manage'),
  'super-admin': PERMISSIONS,
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function isTenantRole(value: unknown): value is (typeof TENANT_ROLES)[number] {
  return typeof value === 'string' && (TENANT_ROLES as readonly string[]).includes(value);
}

/** The permissions of `role`, sorted; unknown roles have none. */
export function permissionsOf(role: string): Permission[] {
  return isRole(role) ? [...TABLE[role]].sort() : [];
}

export function hasPermission(role: string, permission: Permission): boolean {
  return isRole(role) && TABLE[role].includes(permission);
}

/** The role → permissions table, for documentation and the OpenAPI description. */
export function permissionTable(): Record<Role, Permission[]> {
  return Object.fromEntries(ROLES.map((r) => [r, permissionsOf(r)])) as Record<Role, Permission[]>;
}
