// GET /rules says, per rule, whether Vigil collects the events it needs (coverage collected|partial|not_collected
// with a reason): an embedded server with SigmaHQ's Linux rules (../shared/sigma, read at run time).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { call, startFixture, type Fixture } from './support.ts';

const SIGMA_LINUX = join(import.meta.dirname, '../../../shared/sigma/rules/linux');
const skip = existsSync(SIGMA_LINUX) ? false : `${SIGMA_LINUX} is not there`;

let f: Fixture;
before(async () => { if (!skip) f = await startFixture({ ruleDirs: [SIGMA_LINUX] }); });
after(async () => f?.stop());

interface RuleRow { id: string; source: string; file: string | null; logsource: { product?: string; category?: string; service?: string } | null; kind: string; coverage: string; coverage_reason: string; coverage_logsource: string }

test('every rule carries its coverage and reason; the totals count them', { skip }, async () => {
  const r = await call(f, 'GET', '/rules', { token: f.tokens.viewer });
  assert.equal(r.status, 200);
  const rules = r.body.rules as RuleRow[];
  for (const x of rules) {
    assert.ok(['collected', 'partial', 'not_collected'].includes(x.coverage), `${x.id}: ${x.coverage}`);
    assert.ok(x.coverage_reason.length > 10);
  }
  const auditd = rules.filter((x) => x.logsource?.service === 'auditd');
  assert.ok(auditd.length >= 40);
  for (const x of auditd) assert.deepEqual([x.coverage, x.coverage_logsource], ['not_collected', 'linux/auditd'], x.file ?? x.id);
  const proc = rules.filter((x) => x.source === 'sigma' && x.logsource?.category === 'process_creation');
  assert.ok(proc.length >= 100 && proc.every((x) => x.coverage === 'collected'));
  const totals = { collected: 0, partial: 0, not_collected: 0 } as Record<string, number>;
  for (const x of rules) totals[x.coverage]++;
  assert.deepEqual(r.body.coverage, totals);

  const correlation = rules.find((x) => x.kind === 'correlation');
  assert.ok(correlation, 'the built-in correlations are listed');
  assert.notEqual(correlation.coverage, 'not_collected', 'built-in correlations reference collected rules');

  const one = await call(f, 'GET', `/rules/${auditd[0].id}`, { token: f.tokens.viewer });
  assert.equal(one.body.coverage, 'not_collected');
  assert.match(one.body.coverage_reason, /auditd/);
});
