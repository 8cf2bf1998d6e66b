// The permission table: only the super-admin manages tenants, viewers only read, roles nest as documented.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasPermission, PERMISSIONS, permissionsOf, permissionTable, ROLES } from '../../src/identity/permissions.ts';

test('only the super-admin manages tenants; admins manage users; unknown roles have nothing', () => {
  assert.deepEqual(ROLES.filter((r) => hasPermission(r, 'tenants:manage')), ['super-admin']);
  assert.deepEqual(ROLES.filter((r) => hasPermission(r, 'users:manage')), ['admin', 'super-admin']);
  assert.deepEqual(permissionsOf('root'), []);
  assert.equal(hasPermission('Admin', 'users:manage'), false);
});

test('viewers only read; responders execute IR; analysts write rules; everyone reads what viewers read', () => {
  assert.ok(permissionsOf('viewer').every((p) => p.endsWith(':read')));
  assert.deepEqual(ROLES.filter((r) => hasPermission(r, 'ir:execute')), ['admin', 'responder', 'super-admin']);
  assert.deepEqual(ROLES.filter((r) => hasPermission(r, 'rules:write')), ['admin', 'analyst', 'super-admin']);
  const table = permissionTable();
  for (const role of ROLES) {
    assert.ok(permissionsOf('viewer').every((p) => table[role].includes(p)), role);
    assert.ok(table[role].every((p) => (PERMISSIONS as readonly string[]).includes(p)), role);
  }
});
