// Input formats and Windows logsource classification; OTRF match counts stable and equal between the
// CLI (`vigil scan --json`) and the pipeline's DetectionStage, on a bounded set of datasets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { gzipSync } from 'node:zlib';
import { decodeEventFile, parseEvents } from '../../src/detect/input.ts';
import { hostOf, normalizeRecord } from '../../src/detect/records.ts';
import { loadCompileOptions, loadRuleSources } from '../../src/detect/loader.ts';
import { compileSigma } from '../../src/sigma/parser.ts';
import { DetectionStage } from '../../src/detect/stage.ts';
import type { Alert } from '../../src/detect/alerts.ts';
import type { VigilEvent } from '../../src/schema/event.ts';

const collect = (text: string): { recs: unknown[]; errors: number } => {
  const recs: unknown[] = [];
  const r = parseEvents(text, (x) => recs.push(x));
  return { recs, errors: r.errors };
};

test('JSON lines, arrays and concatenated objects parse; bad records are counted, good ones kept', () => {
  assert.equal(collect('{"a":1}\n{"a":2}\n').recs.length, 2);
  assert.deepEqual(collect('{"a":1}\nnot json\n{"a":3}'), { recs: [{ a: 1 }, { a: 3 }], errors: 1 });
  assert.equal(collect('[{"a":1},{"a":"}{"}]').recs.length, 2);
  assert.equal(collect('{\n "a": {"b": "}"}\n}\n{\n "a": 2\n}').recs.length, 2);
});

test('zip and gzip are unpacked', () => {
  const text = '{"EventID":1}\n';
  const zip = zipSync({ 'x.json': new TextEncoder().encode(text) });
  assert.equal(decodeEventFile('a.zip', zip)[0].text, text);
  assert.equal(decodeEventFile('a.json.gz', gzipSync(text))[0].text, text);
});

test('Windows events get their logsource from channel and event id; 4688 gains Sysmon field names', () => {
  const sysmon = (id: number): string[] => normalizeRecord({ EventID: id, Channel: 'Microsoft-Windows-Sysmon/Operational' })!.logsource.categories;
  assert.deepEqual(sysmon(1), ['process_creation']);
  assert.deepEqual(sysmon(3), ['network_connection']);
  assert.deepEqual(sysmon(7), ['image_load']);
  assert.deepEqual(sysmon(11), ['file_event']);
  assert.ok(sysmon(13).includes('registry_set') && sysmon(13).includes('registry_event'));
  const sec = normalizeRecord({ EventID: 4688, Channel: 'Security', NewProcessName: 'C:\\x.exe' })!;
  assert.deepEqual([sec.logsource.service, sec.logsource.categories, sec.record.Image], ['security', ['process_creation'], 'C:\\x.exe']);
  const evtx = normalizeRecord({ Event: { System: { EventID: 1, Channel: 'Microsoft-Windows-Sysmon/Operational', Provider: { '#attributes': { Name: 'Microsoft-Windows-Sysmon' } } }, EventData: { Image: 'C:\\a.exe' } } })!;
  assert.deepEqual([evtx.logsource.service, evtx.logsource.categories[0], evtx.record.Image], ['sysmon', 'process_creation', 'C:\\a.exe']);
  assert.equal(normalizeRecord({ hello: 1 }), undefined);
});

const shared = join(import.meta.dirname, '../../../shared');
const DATASETS = [
  'datasets/otrf/datasets/atomic/windows/defense_evasion/host/cmd_netsh_fw_mod_open_ports.zip',
  'datasets/otrf/datasets/atomic/windows/defense_evasion/host/psh_mshta_html_application_execution.zip',
  'datasets/otrf/datasets/atomic/windows/defense_evasion/host/cmd_bitsadmin_download_psh_script.zip',
].map((p) => join(shared, p));
const RULES = ['rules/windows/process_creation', 'rules/windows/builtin/security', 'rules/windows/powershell'].map((p) => join(shared, 'sigma', p));

async function pipelineAlerts(): Promise<Alert[]> {
  const alerts: Alert[] = [];
  const stage = new DetectionStage(compileSigma(loadRuleSources(RULES), loadCompileOptions({})), { write: async (a) => { alerts.push(...a); } });
  for (const path of DATASETS) {
    for (const f of decodeEventFile(path, readFileSync(path))) {
      const batch: VigilEvent[] = [];
      // Each record as the agent of its own Windows host would send it: the pipeline's alert host is the reporting
      // agent, `vigil scan`'s the record's computer, so they name the same host.
      parseEvents(f.text, (raw) => batch.push({
        '@timestamp': '', agent: { id: hostOf(normalizeRecord(raw)?.record ?? {}) ?? 'imported', tenant_id: 'default' }, event: { id: '', type: 'windows' }, winlog: raw as Record<string, unknown>,
      }));
      await stage.process(batch);
    }
  }
  return alerts;
}

test('OTRF match counts are stable between runs and equal between `vigil scan` and the pipeline stage', async () => {
  const first = await pipelineAlerts();
  const second = await pipelineAlerts();
  assert.ok(first.length > 5, `${first.length} alerts`);
  assert.deepEqual(second.map((a) => a.id), first.map((a) => a.id));
  const out = execFileSync(process.execPath, [join(import.meta.dirname, '../../src/cli/main.ts'), 'scan', '--json', '--rules', ...RULES, '--events', ...DATASETS], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const cli = out.trim().split('\n').map((l) => JSON.parse(l) as { id: string; rule: { id: string; title: string; level: string; author: string }; event: unknown });
  assert.ok(cli.every((d) => d.rule.id && d.rule.title && d.rule.level && d.rule.author && d.event));
  assert.deepEqual(cli.map((d) => d.id).sort(), first.map((a) => a.id).sort());
});
