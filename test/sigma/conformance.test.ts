// SigmaHQ conformance over ../shared/sigma: active rules and deprecated/ compile, rules-placeholder/ compiles
// only with placeholders configured, unsupported/ is rejected with a reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadCompileOptions, loadRuleSources } from '../../src/detect/loader.ts';
import { RuleSet } from '../../src/detect/ruleset.ts';
import { compileSigma } from '../../src/sigma/parser.ts';
import type { CompileOptions, RuleSource } from '../../src/sigma/parser.ts';

const sigma = join(import.meta.dirname, '../../../shared/sigma');
const opts = loadCompileOptions({ fieldSchema: join(sigma, 'tests/logsource.json') });
const yaml = (dir: string): RuleSource[] => loadRuleSources([join(sigma, dir)]).filter((s) => /\.ya?ml$/.test(s.path));

/** A value for every placeholder the sources name (what an operator's configuration provides). */
function placeholdersFor(sources: RuleSource[]): Record<string, string[]> {
  const names = new Set(sources.flatMap((s) => [...s.text.matchAll(/%([A-Za-z0-9_.-]+)%/g)].map((m) => m[1])));
  return Object.fromEntries([...names].map((n) => [n, [`configured-${n}`]]));
}

function compileAll(sources: RuleSource[], o: CompileOptions = opts) {
  const r = compileSigma(sources, o);
  const set = new RuleSet(r.rules);
  return { ...r, predicateErrors: set.rejected };
}

test('every active SigmaHQ rule compiles (those using placeholders once they are configured)', () => {
  const sources = ['rules', 'rules-emerging-threats', 'rules-threat-hunting', 'rules-compliance'].flatMap(yaml);
  assert.ok(sources.length > 3700, `${sources.length} rule files`);
  const plain = compileAll(sources);
  assert.deepEqual(plain.predicateErrors, []);
  for (const r of plain.rejected) assert.match(r.reason, /placeholder %[^%]+% is not configured/, `${r.file}: ${r.reason}`);
  const configured = compileAll(sources, { ...opts, placeholders: placeholdersFor(sources) });
  assert.deepEqual(configured.rejected, []);
  assert.equal(configured.rules.length, sources.length);
});

// The two rejected deprecated rules share their reason with rules of unsupported/ (docs/rules.md, Known gaps).
test('every deprecated rule compiles, except one declaring status unsupported and one Sigma 1.x aggregation', () => {
  const sources = yaml('deprecated');
  const r = compileAll(sources, { ...opts, placeholders: placeholdersFor(sources) });
  assert.deepEqual(r.predicateErrors, []);
  const reasons = r.rejected.map((x) => x.reason);
  assert.ok(reasons.every((x) => /status 'unsupported'|obsolete 'timeframe'/.test(x)), reasons.join('\n'));
  assert.ok(r.rules.length >= sources.length - reasons.length);
});

test('rules-placeholder rules are rejected with the placeholder named, and compile when configured', () => {
  const sources = yaml('rules-placeholder');
  const bare = compileAll(sources);
  assert.equal(bare.rules.length, 0);
  assert.equal(bare.rejected.length, sources.length);
  for (const r of bare.rejected) assert.match(r.reason, /placeholder %[^%]+% is not configured/);
  const configured = compileAll(sources, { ...opts, placeholders: placeholdersFor(sources) });
  assert.equal(configured.rules.length, sources.length);
});

test('unsupported/ rules are rejected with a precise reason (two known semantic exceptions)', () => {
  const sources = yaml('unsupported');
  const r = compileAll(sources);
  for (const x of r.rejected) {
    assert.ok(x.file && x.reason.length > 10, JSON.stringify(x));
  }
  // SigmaHQ parked these two because Sysmon lacks what they test (IntegrityLevel on file_event; a bare
  // 'werfault.exe' never equals Image). Active rules use the same constructs and must compile, so no
  // general reason can reject them (docs/rules.md, Known gaps).
  const loaded = r.rules.map((x) => x.sigma_source?.split('/').pop()).sort();
  assert.deepEqual(loaded, ['sysmon_non_priv_program_files_move.yml', 'win_suspicious_werfault_connection_outbound.yml']);
});
