// `vigil rules check PATH...`: compiles rule files and directories and reports what loaded and what was
// rejected, grouped by reason (every rejection with rule id, file and line under --verbose or --json).

import { compileSigma } from '../../sigma/parser.ts';
import type { CorrelationIR, RejectedRule, RuleIR } from '../../sigma/ir.ts';
import { loadCompileOptions, loadRuleSources } from '../../detect/loader.ts';
import { rulesCoverage, type Coverage } from '../../detect/logsources.ts';
import { RuleSet } from '../../detect/ruleset.ts';
import { parseMultiArgs, single } from './_sigma-args.ts';

export const summary = 'check Sigma / JSON rules: loaded and rejected rules by reason, and which need logs Vigil does not collect';

const USAGE = `usage: vigil rules check PATH... [--json] [--verbose] [--placeholders FILE] [--field-schema FILE]
  PATH              rule files (.yml, .yaml, .json) or directories (searched recursively)
  --json            print the report as one JSON object
  --verbose         list every rejected rule (id, file:line, reason)
  --placeholders    YAML/JSON map of placeholder name → values, for rules using |expand
  --field-schema    field list per logsource (SigmaHQ tests/logsource.json format); rejects unknown fields

Coverage: every loaded rule is collected (Vigil's sensors produce its events), partial (only some sensors do,
or the rule was written for a log Vigil replaces with its own events) or not_collected (a log source Vigil does
not collect: auditd, syslog, Windows, zeek, …). The report counts rules per log source and lists the rules that
are not collected or partial, with the reason.`;

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
  const cov = coverageReport(set.rules.map((r) => r.ir), result.correlations);
  const report = {
    files: sources.length, loaded: set.rules.length, correlations: result.correlations.length, rejected: rejected.length,
    by_reason: Object.fromEntries(Object.entries(byReason).sort((a, b) => b[1] - a[1])), warnings: result.warnings,
    coverage: cov.totals, by_logsource: cov.byLogsource,
    ms: Math.round(performance.now() - started),
  };
  if (p.flags.has('json')) {
    console.log(JSON.stringify({ ...report, rejected_rules: rejected, uncovered_rules: cov.uncovered }));
    return 0;
  }
  console.log(`${report.files} files: ${report.loaded} rules and ${report.correlations} correlations loaded, ${report.rejected} rejected (${report.ms} ms)`);
  for (const [reason, n] of Object.entries(report.by_reason)) console.log(`  ${String(n).padStart(5)}  ${reason}`);
  for (const w of report.warnings) console.log(`  warning: ${w}`);
  if (p.flags.has('verbose')) {
    for (const r of rejected) console.log(`  rejected ${r.id ?? '(no id)'} ${r.file ?? ''}${r.line ? `:${r.line}` : ''}: ${r.reason}`);
  }
  const t = cov.totals;
  console.log(`coverage: ${t.collected} collected, ${t.partial} partial, ${t.not_collected} not collected (of ${report.loaded + report.correlations} loaded), by log source:`);
  const width = Math.max(0, ...cov.byLogsource.map((x) => x.logsource.length));
  for (const x of cov.byLogsource) console.log(`  ${x.coverage.padEnd(13)} ${String(x.rules).padStart(5)}  ${x.logsource.padEnd(width)}  ${x.reason}`);
  if (cov.uncovered.length) {
    console.log(`rules needing a log source Vigil does not collect (not_collected) or collects only in part (partial):`);
    for (const r of cov.uncovered) console.log(`  ${r.coverage.padEnd(13)} ${r.logsource.padEnd(width)}  ${r.id}  ${r.title}${r.file ? `  (${r.file})` : ''}`);
  }
  return 0;
}

interface CoverageRow { logsource: string; coverage: Coverage; rules: number; reason: string }
interface UncoveredRule { id: string; title: string; file: string | null; logsource: string; coverage: Coverage; reason: string }

/** Coverage counts, one row per log source (and coverage), and the rules not fully collected. */
function coverageReport(rules: RuleIR[], correlations: CorrelationIR[]) {
  const map = rulesCoverage(rules, correlations);
  const totals: Record<Coverage, number> = { collected: 0, partial: 0, not_collected: 0 };
  const rows = new Map<string, CoverageRow>();
  const uncovered: UncoveredRule[] = [];
  for (const r of [...rules, ...correlations]) {
    const c = map.get(r.id)!;
    totals[c.coverage]++;
    const key = `${c.logsource}\u0000${c.coverage}`;
    const row = rows.get(key) ?? { logsource: c.logsource, coverage: c.coverage, rules: 0, reason: c.reason };
    row.rules++;
    rows.set(key, row);
    if (c.coverage !== 'collected') uncovered.push({ id: r.id, title: r.name, file: r.sigma_source ?? null, logsource: c.logsource, coverage: c.coverage, reason: c.reason });
  }
  const rank: Record<Coverage, number> = { not_collected: 0, partial: 1, collected: 2 };
  const byLogsource = [...rows.values()].sort((a, b) => rank[a.coverage] - rank[b.coverage] || b.rules - a.rules || a.logsource.localeCompare(b.logsource));
  uncovered.sort((a, b) => rank[a.coverage] - rank[b.coverage] || a.logsource.localeCompare(b.logsource) || a.id.localeCompare(b.id));
  return { totals, byLogsource, uncovered };
}
