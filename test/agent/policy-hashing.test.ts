// The agent policy's `hashing` keys (src/agent/policy.ts): enabled, bytes_per_second and max_file_bytes within
// their bounds, a bad value reported and left unset, and policies merged key by key over the defaults.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { effectiveSettings, settingsOf, type AgentSettings } from '../../src/agent/policy.ts';
import { DEFAULT_HASHING } from '../../src/agent/enrichment/hashing.ts';

const defaults: AgentSettings = { batchEvents: 100, batchIntervalMs: 1000, heartbeatMs: 30_000, ignoreComms: new Set(), hashing: DEFAULT_HASHING };

test('hashing keys of a policy document, within bounds', () => {
  assert.deepEqual(settingsOf({ hashing: { enabled: false, bytes_per_second: 1_048_576, max_file_bytes: 16_777_216 } }),
    { settings: { hashing: { enabled: false, bytesPerSecond: 1_048_576, maxFileBytes: 16_777_216 } }, errors: [] });
  const bad = settingsOf({ hashing: { enabled: 'yes', bytes_per_second: 10, max_file_bytes: 2 ** 40 } });
  assert.deepEqual(bad.settings, { hashing: {} });
  assert.deepEqual(bad.errors, [
    'hashing.enabled must be a boolean',
    'hashing.bytes_per_second must be an integer in [65536, 1073741824]',
    'hashing.max_file_bytes must be an integer in [1048576, 4294967296]',
  ]);
  assert.deepEqual(settingsOf({ hashing: [] }).errors, ['hashing must be an object']);
});

test('policies override the hashing defaults key by key, in name order', () => {
  const s = effectiveSettings(defaults, [
    { name: 'b-budget', version: 1, document: { hashing: { bytes_per_second: 65_536 } } },
    { name: 'a-off', version: 3, document: { hashing: { enabled: false, bytes_per_second: 1_000_000 } } },
  ]);
  assert.deepEqual(s.hashing, { enabled: false, bytesPerSecond: 65_536, maxFileBytes: DEFAULT_HASHING.maxFileBytes });
  assert.deepEqual(effectiveSettings(defaults, []).hashing, DEFAULT_HASHING);
});
