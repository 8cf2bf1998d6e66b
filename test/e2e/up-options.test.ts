// `vigil up` refuses bad option values with a precise message and exit code 2, before it creates or starts
// anything: the durability and batching settings of the embedded server.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MAIN = join(import.meta.dirname, '../../src/cli/main.ts');

for (const [args, message] of [
  [['--bus-sync-ms=-1'], /bus-sync-ms: expected an integer from 0 to 60000, got '-1'/],
  [['--bus-sync-ms', '1.5'], /bus-sync-ms: expected an integer/],
  [['--bus-sync-ms', '60001'], /0 to 60000/],
  [['--pipeline-batch-wait-ms', 'soon'], /pipeline-batch-wait-ms: expected an integer from 0 to 10000, got 'soon'/],
] as const) {
  test(`vigil up ${args.join(' ')} is refused`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-up-options-'));
    try {
      const dataDir = join(dir, 'data');
      const r = spawnSync(process.execPath, [MAIN, 'up', '--data-dir', dataDir, ...args], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(existsSync(dataDir), false, 'nothing was created');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('VIGIL_BUS_SYNC_MS is read like the flag', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-up-options-'));
  try {
    const r = spawnSync(process.execPath, [MAIN, 'up', '--data-dir', join(dir, 'data')], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, VIGIL_BUS_SYNC_MS: 'always' } });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /bus-sync-ms: expected an integer from 0 to 60000, got 'always'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
