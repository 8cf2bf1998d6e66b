// The one settings table of `vigil up` and the roles (src/cli/settings.ts): both deployments read the same flags,
// variables and file keys; booleans bare or valued, lists repeated or comma-separated, old names accepted, bad
// values refused with the setting's name; the README's configuration table is the table's own rendering.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings, SETTINGS, settingsTable, type AllSettings } from '../../src/cli/settings.ts';

const up = (args: string[], env: NodeJS.ProcessEnv = {}) => loadSettings('up', args, env) as Partial<AllSettings>;
const roles = (args: string[], env: NodeJS.ProcessEnv = {}) => loadSettings('roles', args, env) as Partial<AllSettings>;

test('README: the configuration table is the settings table', () => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const section = /<!-- settings:begin -->\n([\s\S]*?)\n<!-- settings:end -->/.exec(readme);
  assert.ok(section, 'README has the settings markers');
  assert.equal(section[1], settingsTable(), 'regenerate: node -e "import(\'./src/cli/settings.ts\').then(m => console.log(m.settingsTable()))"');
});

test('every setting has a unique flag and variable, and applies somewhere', () => {
  const flags = SETTINGS.flatMap((s) => [s.flag, ...(s.aliases ?? [])]);
  assert.equal(new Set(flags).size, flags.length);
  assert.equal(new Set(SETTINGS.map((s) => s.env)).size, SETTINGS.length);
  for (const s of SETTINGS) assert.ok(s.applies.length > 0, s.flag);
});

test('shared settings: the same names in both deployments, each with its own default where they differ', () => {
  assert.equal(up([]).http, '127.0.0.1:8440');
  assert.equal(roles([]).http, '0.0.0.0:8440');
  assert.equal(up([]).pipelineBatchWaitMs, 1000);
  assert.equal(roles([]).pipelineBatchWaitMs, 250);
  for (const load of [up, roles]) {
    const c = load(['--ir-expiry', '60', '--rules', '/a', '--rules', '/b,/c', '--pipeline-batch-wait-ms', '20', '--retention-days', '7'], { VIGIL_IR_TWO_PERSON: '1' });
    assert.equal(c.irExpirySeconds, 60);
    assert.equal(c.irTwoPerson, true);
    assert.deepEqual(c.ruleDirs, ['/a', '/b', '/c']);
    assert.equal(c.pipelineBatchWaitMs, 20);
    assert.equal(c.retentionDays, 7);
  }
});

test('booleans bare or valued; flags win over the environment; old flag names still read', () => {
  assert.equal(up(['--auto-response']).autoResponse, true);
  assert.equal(roles(['--auto-response', '1']).autoResponse, true);
  assert.equal(up(['--auto-response=0'], { VIGIL_AUTO_RESPONSE: '1' }).autoResponse, false);
  assert.equal(up(['--no-agent', '--sensor', 'proc']).noAgent, true);
  assert.equal(up(['--allow-private-alert-sinks', '--http', '127.0.0.1:0']).allowPrivateAlertSinks, true, 'a bare boolean before another flag');
  assert.equal(roles(['--worker-batch-wait-ms', '5']).pipelineBatchWaitMs, 5);
  assert.deepEqual(roles(['--rule-dirs', '/x,/y']).ruleDirs, ['/x', '/y']);
});

test('a config file is read by both, by flag name; unknown keys and bad values are refused by name', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-settings-'));
  try {
    const file = join(dir, 'vigil.yaml');
    writeFileSync(file, 'ir-expiry: 120\nrules: [/r1, /r2]\nauto-response: true\n');
    for (const load of [up, roles]) {
      const c = load(['--config', file]);
      assert.equal(c.irExpirySeconds, 120);
      assert.deepEqual(c.ruleDirs, ['/r1', '/r2']);
      assert.equal(c.autoResponse, true);
    }
    writeFileSync(file, 'nats: nats://x:4222\n');
    assert.throws(() => up(['--config', file]), /unknown setting 'nats'/, 'a scale-out setting is not one of vigil up\'s');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => up(['--sensor', 'kernel']), /sensor: expected one of auto, ebpf, proc, got 'kernel'/);
  assert.throws(() => up(['--bus-sync-ms', '60001']), /bus-sync-ms: expected an integer from 0 to 60000/);
  assert.throws(() => roles(['--bus-replicas', '7']), /bus-replicas: expected an integer from 1 to 5/);
  assert.throws(() => up(['--ir-expiry', '1.5']), /ir-expiry: expected an integer of at least 1/);
  assert.throws(() => up(['--nats', 'x']), /Unknown option '--nats'/);
});
