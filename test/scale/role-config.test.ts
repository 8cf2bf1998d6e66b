// Settings of the scale-out roles (src/cli/role-config.ts) added with shared rules, partition leases and alert
// webhooks: defaults, the environment and flags, and precise refusals of malformed values.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadRoleConfig, type RoleConfig } from '../../src/cli/role-config.ts';

const load = (args: string[], env: NodeJS.ProcessEnv = {}) => loadRoleConfig(args, env) as RoleConfig;

test('partition leases: 15 s by default, at least 1 s; pinned partitions still accepted', () => {
  assert.equal(load([]).partitionLeaseMs, 15_000);
  assert.equal(load([], { VIGIL_PARTITION_LEASE_MS: '2000' }).partitionLeaseMs, 2000);
  assert.throws(() => load(['--partition-lease-ms', '999']), /partition-lease-ms: expected an integer of at least 1000, got '999'/);
  assert.deepEqual(load(['--event-partitions', '4', '--worker-count', '2', '--worker-index', '1']).ownedPartitions, [1, 3]);
});

test('private alert sinks: off by default; 1/0/true/false; anything else refused', () => {
  assert.equal(load([]).allowPrivateAlertSinks, false);
  assert.equal(load([], { VIGIL_ALLOW_PRIVATE_ALERT_SINKS: '1' }).allowPrivateAlertSinks, true);
  assert.equal(load(['--allow-private-alert-sinks', 'false'], { VIGIL_ALLOW_PRIVATE_ALERT_SINKS: '1' }).allowPrivateAlertSinks, false, 'flags win');
  assert.throws(() => load([], { VIGIL_ALLOW_PRIVATE_ALERT_SINKS: 'yes' }), /allow-private-alert-sinks: expected 1, 0, true or false, got 'yes'/);
});
