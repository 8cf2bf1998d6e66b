// Benchmark of the detection engine: every active SigmaHQ rule (rules, rules-emerging-threats,
// rules-threat-hunting, rules-compliance) over every OTRF dataset in ../shared/datasets/otrf, on one core.
// Rule loading and JSON parsing are excluded from the timed part (classification, routing, literal index,
// predicates and alert building are included); each file's records are run 3 times and the median of the
// 3 total times is reported. Last line: {"bench":"sigma","events_per_s":…,"rules":…,"events":…,"matches":…}
// Quick iterations: `--datasets SUBSTRING` keeps only dataset files whose path contains it, `--runs N`.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Detector } from '../src/detect/engine.ts';
import { decodeEventFile, parseEvents } from '../src/detect/input.ts';
import { loadCompileOptions, loadRuleSources } from '../src/detect/loader.ts';
import { normalizeRecord } from '../src/detect/records.ts';
import { compileSigma } from '../src/sigma/parser.ts';

const shared = join(import.meta.dirname, '../../shared');
const { values: opts } = parseArgs({ options: { datasets: { type: 'string', default: '' }, runs: { type: 'string', default: '3' } } });
const RUNS = Math.max(1, Number(opts.runs) || 3);

function files(dir: string): string[] {
  return readdirSync(dir).sort().flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.(zip|gz|json)$/.test(n) ? [p] : [];
  });
}

const loadStart = performance.now();
const ruleDirs = ['rules', 'rules-emerging-threats', 'rules-threat-hunting', 'rules-compliance'].map((d) => join(shared, 'sigma', d));
const compiled = compileSigma(loadRuleSources(ruleDirs), loadCompileOptions({ fieldSchema: join(shared, 'sigma/tests/logsource.json') }));
const detector = new Detector(compiled);
const loadMs = performance.now() - loadStart;
console.log(`rules: ${detector.ruleSet.rules.length} loaded, ${compiled.rejected.length} rejected, ${Math.round(loadMs)} ms`);

const runMs = new Array<number>(RUNS).fill(0);
let events = 0;
let matches = 0;
let parseMs = 0;
for (const path of files(join(shared, 'datasets/otrf')).filter((p) => p.includes(opts.datasets))) {
  const t0 = performance.now();
  const records: unknown[] = [];
  for (const f of decodeEventFile(path, readFileSync(path))) parseEvents(f.text, (r) => records.push(r));
  parseMs += performance.now() - t0;
  events += records.length;
  for (let run = 0; run < RUNS; run++) {
    let m = 0;
    const start = performance.now();
    for (const raw of records) {
      const n = normalizeRecord(raw);
      if (n) m += detector.detect(n, 'bench').length;
    }
    runMs[run] += performance.now() - start;
    if (run === 0) matches += m;
  }
}
const median = [...runMs].sort((a, b) => a - b)[Math.floor(RUNS / 2)];
console.log(`events: ${events}, matches: ${matches}, parse ${Math.round(parseMs)} ms (excluded), detect runs ${runMs.map(Math.round).join(' / ')} ms`);
console.log(JSON.stringify({ bench: 'sigma', events_per_s: Math.round(events / (median / 1000)), rules: detector.ruleSet.rules.length, events, matches }));
