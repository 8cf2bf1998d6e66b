// Rule coverage: which rules need a log source Vigil does not collect. `vigil rules check` over SigmaHQ's Linux
// rules (../shared/sigma, read at run time, never copied) counts rules per log source and lists the uncovered ones;
// the expected counts come from the rule files themselves. Also the pure classification and correlations.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ruleFiles } from '../../src/detect/loader.ts';
import { eventTypesFor, logsourceCoverage, rulesCoverage } from '../../src/detect/logsources.ts';

const SIGMA_LINUX = join(import.meta.dirname, '../../../shared/sigma/rules/linux');
const VIGIL = join(import.meta.dirname, '../../bin/vigil.js');
const skip = existsSync(SIGMA_LINUX) ? false : `${SIGMA_LINUX} is not there`;

/** Each rule file's logsource, read from the files (the test's own reading, not Vigil's). */
function logsources(): { file: string; id: string; product?: string; category?: string; service?: string }[] {
  return ruleFiles([SIGMA_LINUX]).flatMap((file) => parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS() as { id: string; logsource?: Record<string, string> })
    .filter((d) => d && d.logsource).map((d) => ({ file, id: d.id, ...d.logsource })));
}

test('vigil rules check says which SigmaHQ Linux rules need a log source Vigil does not collect', { skip }, () => {
  const r = spawnSync(process.execPath, [VIGIL, 'rules', 'check', '--json', SIGMA_LINUX], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  const files = logsources();
  const auditd = files.filter((f) => f.service === 'auditd');
  const services = files.filter((f) => f.service);
  const processCreation = files.filter((f) => f.category === 'process_creation' && !f.service);
  assert.ok(auditd.length >= 40 && processCreation.length >= 100, `${auditd.length} auditd, ${processCreation.length} process_creation rules in the checkout`);
  assert.equal(report.rejected, 0);

  const row = (ls: string) => report.by_logsource.find((x: { logsource: string }) => x.logsource === ls);
  assert.deepEqual([row('linux/auditd').coverage, row('linux/auditd').rules], ['not_collected', auditd.length]);
  assert.match(row('linux/auditd').reason, /does not collect the linux auditd log/);
  assert.deepEqual([row('linux/process_creation').coverage, row('linux/process_creation').rules], ['collected', processCreation.length]);
  assert.equal(row('linux/file_event').coverage, 'partial');
  assert.match(row('linux/file_event').reason, /eBPF sensor only/);

  const uncovered = new Map<string, { coverage: string; reason: string; file: string }>(report.uncovered_rules.map((u: { id: string }) => [u.id, u]));
  for (const f of services) {
    assert.equal(uncovered.get(f.id)?.coverage, 'not_collected', `${f.file} (service ${f.service}) is listed as not collected`);
    assert.equal(uncovered.get(f.id)?.file, f.file);
  }
  for (const f of processCreation) assert.equal(uncovered.has(f.id), false, `${f.file} is collected`);
  assert.equal(report.coverage.not_collected, services.length);
  assert.equal(report.coverage.collected + report.coverage.partial + report.coverage.not_collected, report.loaded + report.correlations);

  const text = spawnSync(process.execPath, [VIGIL, 'rules', 'check', SIGMA_LINUX], { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;
  assert.match(text, new RegExp(`coverage: ${report.coverage.collected} collected, ${report.coverage.partial} partial, ${report.coverage.not_collected} not collected`));
  assert.match(text, new RegExp(`not_collected +${auditd.length} +linux/auditd +Vigil does not collect`));
  assert.match(text, new RegExp(`not_collected +linux/auditd +${auditd[0].id} `), 'the uncovered rules are listed');
});

test('coverage of log sources, and of correlations by the rules they reference', () => {
  assert.equal(logsourceCoverage({ product: 'linux', category: 'process_creation' }).coverage, 'collected');
  assert.equal(logsourceCoverage({ product: 'linux', category: 'network_connection' }).coverage, 'partial');
  assert.equal(logsourceCoverage({ product: 'linux', service: 'auditd' }).coverage, 'not_collected');
  assert.equal(logsourceCoverage({ product: 'windows', service: 'sysmon', category: 'process_creation' }).coverage, 'not_collected');
  assert.equal(logsourceCoverage({ product: 'zeek', service: 'dns' }).coverage, 'not_collected');
  assert.equal(logsourceCoverage({ category: 'proxy' }).coverage, 'not_collected');
  assert.equal(logsourceCoverage({ product: 'linux' }).coverage, 'partial');
  assert.equal(logsourceCoverage({ product: 'linux', category: 'ptrace' }).coverage, 'partial', 'a type without a Sigma category, eBPF only');
  assert.deepEqual(eventTypesFor({ product: 'linux', category: 'process_creation' }), ['process_start', 'memfd_exec']);
  assert.deepEqual(eventTypesFor({ product: 'linux', service: 'auditd' }), []);
  assert.deepEqual(eventTypesFor({ product: 'windows', category: 'process_creation' }), ['windows']);
  assert.equal(eventTypesFor(undefined), undefined);

  const cov = rulesCoverage(
    [{ id: 'a', logsource: { product: 'linux', category: 'process_creation' } }, { id: 'b', logsource: { product: 'linux', service: 'auditd' } }],
    [{ id: 'c1', rules: ['a'] }, { id: 'c2', rules: ['a', 'b'] }, { id: 'c3', rules: ['c2'] }, { id: 'c4', rules: ['gone'] }]);
  assert.equal(cov.get('c1')!.coverage, 'collected');
  assert.equal(cov.get('c2')!.coverage, 'not_collected');
  assert.match(cov.get('c2')!.reason, /^referenced rule b: /);
  assert.equal(cov.get('c3')!.coverage, 'not_collected', 'through a chained correlation');
  assert.equal(cov.get('c4')!.coverage, 'not_collected');
});
