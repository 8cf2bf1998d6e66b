// Upgrading an embedded data directory: the webhook sinks of an earlier version's <data-dir>/alert-sinks.db (its
// secrets in the clear) are copied into metadata.db once, sealed, and the old file is removed; the key file that
// seals them is created with mode 0600, and a key file others could read is tightened.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedAlertSinks } from '../../src/stores/alert-sinks/open.ts';
import { openSqliteDb } from '../../src/stores/sql/sqlite-db.ts';

test('an earlier alert-sinks.db is imported once, sealed, and removed; the key file is 0600', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-sink-upgrade-'));
  try {
    const legacy = openSqliteDb(join(dir, 'alert-sinks.db'));
    await legacy.exec(`CREATE TABLE alert_sinks (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, name TEXT NOT NULL, url TEXT NOT NULL, secret TEXT,
      created_by TEXT NOT NULL, created_at INTEGER NOT NULL)`);
    await legacy.run('INSERT INTO alert_sinks VALUES (?, ?, ?, ?, ?, ?, ?)', ['snk-00000000000000aa', 'default', 'soc', 'https://hooks.example.com/soc', 'old-plain-secret-123', 'user:u1', 1000]);
    await legacy.close();
    const store = await openEmbeddedAlertSinks(dir);
    try {
      const [sink] = await store.forTenant('default');
      assert.deepEqual([sink.id, sink.name, sink.type, sink.format, sink.url, sink.secret, sink.enabled], ['snk-00000000000000aa', 'soc', 'webhook', 'vigil', 'https://hooks.example.com/soc', 'old-plain-secret-123', true]);
      assert.equal(existsSync(join(dir, 'alert-sinks.db')), false, 'the file with the secrets in the clear is gone');
      assert.ok(!readFileSync(join(dir, 'metadata.db'), 'latin1').includes('old-plain-secret-123'));
      assert.equal(statSync(join(dir, 'alert-sink.key')).mode & 0o777, 0o600);
    } finally {
      await store.close();
    }
    chmodSync(join(dir, 'alert-sink.key'), 0o644);
    const again = await openEmbeddedAlertSinks(dir);
    try {
      assert.equal((await again.forTenant('default'))[0].secret, 'old-plain-secret-123', 'the same key: secrets still open');
      assert.equal(statSync(join(dir, 'alert-sink.key')).mode & 0o777, 0o600, 'tightened');
    } finally {
      await again.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
