// Rule management: upload (all or nothing), replace, delete, enable/disable, hot reload into the stage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Alert } from '../../src/detect/alerts.ts';
import { loadCompileOptions } from '../../src/detect/loader.ts';
import { RuleRegistry } from '../../src/detect/registry.ts';
import { DetectionStage } from '../../src/detect/stage.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

const yamlRule = (id: string, exe: string): string =>
  `title: r ${id}\nid: ${id}\nauthor: tester\nlogsource:\n  product: linux\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '${exe}'\n  condition: sel\nlevel: high\n`;
const jsonRule = JSON.stringify({
  id: 'proc-lnx-netcat-revshell', name: 'Suspicious Netcat Reverse Shell', severity: 'high', enabled: true,
  logsource: { product: 'linux', category: 'process_creation' },
  conditions: { op: 'and', children: [{ field: 'process.command_line', op: 'contains', value: ' -e ' }, { field: 'process.executable', op: 'endswith', value: '/nc' }] },
  mitre: ['T1059'], tags: ['attack.execution'],
});
let n = 0;
const ev = (exe: string, cmd = exe): VigilEvent => ({
  '@timestamp': '2026-01-01T00:00:00.000Z', agent: { id: 'a', tenant_id: 't1' }, host: { id: 'h' },
  event: { id: `r${++n}`, type: 'process_start' }, process: { executable: exe, command_line: cmd, entity_id: 'pe1' },
});

test('upload, replace, delete, enable and disable, with the stage hot-reloaded', async () => {
  const reg = new RuleRegistry(loadCompileOptions({}));
  const alerts: Alert[] = [];
  const stage = new DetectionStage(reg.snapshot(), { write: async (a) => { alerts.push(...a); } });
  assert.deepEqual(reg.add(yamlRule('r1', '/evil')), { ok: true, ids: ['r1'] });
  assert.deepEqual(reg.add(jsonRule), { ok: true, ids: ['proc-lnx-netcat-revshell'] });
  stage.reload(reg.snapshot());
  await stage.process([ev('/tmp/evil'), ev('/usr/bin/nc', 'nc x -e sh'), ev('/bin/ls')]);
  assert.deepEqual(alerts.map((a) => [a.rule.id, a.rule.author, a.process_entity_id, a.tenant_id]), [
    ['r1', 'tester', 'pe1', 't1'], ['proc-lnx-netcat-revshell', undefined, 'pe1', 't1'],
  ]);
  assert.equal(alerts[1].mitre[0].name, 'Command and Scripting Interpreter');

  assert.equal(reg.add(yamlRule('r1', '/x')).ok, false); // id taken
  const bad = reg.add(`${yamlRule('r2', '/x')}---\n${yamlRule('r3', '/y').replace('endswith', 'bogus')}`);
  assert.equal(bad.ok, false);
  assert.equal(reg.get('r2'), undefined); // never half-loaded
  assert.equal(reg.replace('r1', yamlRule('r9', '/x')).ok, false); // must keep its id
  assert.equal(reg.replace('r1', yamlRule('r1', '/other')).ok, true);
  assert.equal(reg.setEnabled('proc-lnx-netcat-revshell', false), true);
  assert.equal(reg.list().find((r) => r.id === 'proc-lnx-netcat-revshell')?.enabled, false);
  stage.reload(reg.snapshot());
  alerts.length = 0;
  await stage.process([ev('/tmp/evil'), ev('/tmp/other'), ev('/usr/bin/nc', 'nc x -e sh')]);
  assert.deepEqual(alerts.map((a) => a.rule.id), ['r1']);
  assert.equal(reg.delete('r1').ok, true);
  assert.equal(reg.delete('r1').ok, false);
  assert.equal(reg.setEnabled('nope', true), false);
});

test('rules from a directory are read-only; alert ids are deterministic', async () => {
  const reg = new RuleRegistry(loadCompileOptions({}));
  reg.setSources('directory', [{ path: '/rules/a.yml', text: yamlRule('d1', '/evil') }]);
  const r = reg.replace('d1', yamlRule('d1', '/x'));
  assert.equal(r.ok === false && r.status, 'read_only');
  const ids: string[] = [];
  const stage = new DetectionStage(reg.snapshot(), { write: async (a) => { ids.push(...a.map((x) => x.id)); } });
  const e = ev('/tmp/evil');
  await stage.process([e]);
  await stage.process([e]);
  assert.equal(ids.length, 2);
  assert.equal(ids[0], ids[1]);
});
