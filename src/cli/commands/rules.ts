// `vigil rules check PATH...`: compiles rule files and directories and reports what loaded and what was
// rejected, grouped by reason (every rejection with rule id, file and line under --verbose or --json).

import { compileSigma } from '../../sigma/parser.ts';
import type { RejectedRule } from '../../sigma/ir.ts';
import { loadCompileOptions, loadRuleSources } from '../../detect/loader.ts';
import { RuleSet } from '../../detect/ruleset.ts';
import { parseMultiArgs, single } from './_sigma-args.ts';

export const summary = 'check Sigma / JSON rules: counts of loaded and rejected rules by reason';

const USAGE = `usage: vigil rules check PATH... [--json] [--verbose] [--placeholders FILE] [--field-schema FILE]
  PATH              rule files (.yml, .yaml, .json) or directories (searched recursively)
  --json            print the report as one JSON object
  --verbose         list every rejected rule (id, file:line, reason)
  --placeholders    YAML/JSON map of placeholder name → values, for rules using |expand
  --field-schema    field list per logsource (SigmaHQ tests/logsource.json format); rejects unknown fields`;

/** A reason with quoted specifics removed, so that equal problems group together. */
function reasonClass(reason: string): string {
  return reason.replace(/^[^:]*\|[^:]*: /, '').replace(/'[^']*'/g, "'…'").replace(/%[^%]+%/g, '%…%');
}

export async function run(args: string[]): Promise<number> {
  const p = parseMultiArgs(args, ['json', 'verbose', 'help']);
  const [sub, ...paths] = p.positional;
  if (p.flags.has('help') || sub !== 'check' || paths.length === 0) {
    console.log(USAGE);
    return p.flags.has('help') ? 0 : 2;
  }
  const opts = loadCompileOptions({ placeholders: single(p, 'placeholders'), fieldSchema: single(p, 'field-schema') });
  const started = performance.now();
  const sources = loadRuleSources(paths);
  const result = compileSigma(sources, opts);
  const set = new RuleSet(result.rules);
  const rejected: RejectedRule[] = [...result.rejected, ...set.rejected.map((r) => ({ id: r.id, reason: r.reason }))];
  const byReason: Record<string, number> = {};
  for (const r of rejected) byReason[reasonClass(r.reason)] = (byReason[reasonClass(r.reason)] ?? 0) + 1;
  const report = {
    files: sources.length, loaded: set.rules.length, correlations: result.correlations.length, rejected: rejected.length,
    by_reason: Object.fromEntries(Object.entries(byReason).sort((a, b) => b[1] - a[1])), warnings: result.warnings,
    ms: Math.round(performance.now() - started),
  };
  if (p.flags.has('json')) {
    console.log(JSON.stringify({ ...report, rejected_rules: rejected }));
    return 0;
  }
  console.log(`${report.files} files: ${report.loaded} rules and ${report.correlations} correlations loaded, ${report.rejected} rejected (${report.ms} ms)`);
  for (const [reason, n] of Object.entries(report.by_reason)) console.log(`  ${String(n).padStart(5)}  ${reason}`);
  for (const w of report.warnings) console.log(`  warning: ${w}`);
  if (p.flags.has('verbose')) {
    for (const r of rejected) console.log(`  rejected ${r.id ?? '(no id)'} ${r.file ?? ''}${r.line ? `:${r.line}` : ''}: ${r.reason}`);
  }
  return 0;
}
