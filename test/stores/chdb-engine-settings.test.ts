// The embedded event engine's cache bounds: the defaults, the operator's overrides (VIGIL_EVENT_ENGINE_SETTINGS),
// refused malformed overrides, and the bounds in force in the engine (ClickHouse's system.server_settings).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ChdbEngine, EMBEDDED_ENGINE_SETTINGS, engineSettings } from '../../src/stores/events/chdb-engine.ts';

test('engine settings: defaults, overrides by name, malformed words refused', () => {
  assert.deepEqual(engineSettings(''), { ...EMBEDDED_ENGINE_SETTINGS });
  const s = engineSettings(' max_server_memory_usage=536870912  mark_cache_size=0 background_pool_size=4 ');
  assert.equal(s.max_server_memory_usage, '536870912');
  assert.equal(s.mark_cache_size, '0');
  assert.equal(s.background_pool_size, '4');
  assert.equal(s.primary_index_cache_size, EMBEDDED_ENGINE_SETTINGS.primary_index_cache_size);
  assert.throws(() => engineSettings('max_server_memory_usage'), /'max_server_memory_usage' is not name=value/);
  assert.throws(() => engineSettings('--path=/etc'), /is not name=value/);
});

test('the engine runs under its bounds', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-chdb-settings-'));
  const engine = new ChdbEngine(join(dir, 'events'), { settings: engineSettings('mark_cache_size=12345678') });
  try {
    const rows = await engine.query<{ name: string; value: string }>(
      `SELECT name, value FROM system.server_settings WHERE name IN ('index_mark_cache_size', 'mark_cache_size', 'primary_index_cache_size')`);
    const got = Object.fromEntries(rows.map((r) => [r.name, r.value]));
    assert.deepEqual(got, {
      index_mark_cache_size: EMBEDDED_ENGINE_SETTINGS.index_mark_cache_size, mark_cache_size: '12345678',
      primary_index_cache_size: EMBEDDED_ENGINE_SETTINGS.primary_index_cache_size,
    });
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
