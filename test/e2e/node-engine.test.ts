// `npx vigil` on a machine whose system Node is older than the pinned one: npm itself runs on the system Node, so
// a package.json `engines` field made it print `npm warn EBADENGINE` (when it links the project into its npx
// cache, i.e. with a fresh cache) although the command then runs on the pinned Node 24 of node_modules/.bin.
// Vigil checks the version in bin/vigil.js instead: no warning from npx, and a clear refusal on a wrong Node.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VIGIL_BIN = join(ROOT, 'bin/vigil.js');

/** The system's Node outside node_modules/.bin (not the pinned Node 24 this test runs on), with its major version. */
function systemNode(): { path: string; major: number } | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d && !d.includes('node_modules'));
  for (const dir of [...dirs, '/usr/bin', '/usr/local/bin']) {
    const path = join(dir, 'node');
    if (!existsSync(path)) continue;
    const r = spawnSync(path, ['-p', 'process.versions.node'], { encoding: 'utf8' });
    if (r.status === 0) return { path, major: Number(r.stdout.trim().split('.')[0]) };
  }
  return undefined;
}

const system = systemNode();
const older = system && system.major !== 24 ? system : undefined;
const skip = older ? false : `no system Node other than 24 outside node_modules (found ${system?.path ?? 'none'} ${system?.major ?? ''})`;

test('npx vigil with an older system Node first in PATH prints no engine warning and runs on the pinned Node 24', { skip, timeout: 120_000 }, () => {
  const cache = mkdtempSync(join(tmpdir(), 'vigil-npx-cache-')); // a fresh npx cache: npm links the project and checks engines then
  try {
    const path = [dirname(older!.path), ...(process.env.PATH ?? '').split(delimiter).filter((d) => !d.includes('node_modules'))].join(delimiter);
    const npx = join(dirname(older!.path), 'npx');
    assert.ok(existsSync(npx), `npx next to ${older!.path}`);
    for (const args of [['vigil', 'version'], ['vigil', '--help']]) {
      const r = spawnSync(npx, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH: path, npm_config_cache: cache, npm_config_update_notifier: 'false' }, timeout: 100_000 });
      assert.equal(r.status, 0, `npx ${args.join(' ')}: ${r.stderr}`);
      assert.doesNotMatch(r.stderr, /EBADENGINE|Unsupported engine/, r.stderr);
      if (args[1] === 'version') assert.match(r.stdout, /\(node v24\./, 'runs on the pinned Node 24');
    }
  } finally {
    rmSync(cache, { recursive: true, force: true });
  }
});

test('bin/vigil.js on a Node other than 24 refuses with a clear message and exit code 1', { skip }, () => {
  const r = spawnSync(older!.path, [VIGIL_BIN, 'version'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /vigil: needs Node\.js 24, this is v\d+/);
  assert.match(r.stderr, /npx vigil/);
  assert.doesNotMatch(r.stderr, /ERR_UNKNOWN_FILE_EXTENSION|at .*node:internal/, 'no stack trace from loading TypeScript');
});

test('bin/vigil.js on the pinned Node runs', () => {
  const r = spawnSync(process.execPath, [VIGIL_BIN, 'version'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^vigil \d+\.\d+\.\d+ \(node v24\./);
});
