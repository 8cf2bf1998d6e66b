// `vigil scan --rules PATH... --events PATH... [--json]`: standalone hunting over event files (like
// Chainsaw), with the same detector as the server pipeline. Prints each detection with its rule's author
// (Detection Rule License 1.1); exit code 0 even with detections.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Alert } from '../../detect/alerts.ts';
import { Detector } from '../../detect/engine.ts';
import { decodeEventFile } from '../../detect/input.ts';
import { loadCompileOptions, loadRuleSources } from '../../detect/loader.ts';
import { emptyScanReport, scanText } from '../../detect/scanner.ts';
import { compileSigma } from '../../sigma/parser.ts';
import { parseMultiArgs, single } from './_sigma-args.ts';

export const summary = 'hunt with Sigma rules over event files (JSON lines, arrays, evtx_dump JSON; zip, gz, tar)';

const USAGE = `usage: vigil scan --rules PATH... --events PATH... [--json] [--tenant ID] [--placeholders FILE] [--field-schema FILE]
  --rules    rule files or directories (Sigma YAML, Vigil JSON rule form)
  --events   event files or directories: JSON lines, JSON arrays, concatenated JSON, evtx_dump JSON, plain or
             zipped / gzipped / tar
  --json     one JSON object per detection (rule.id, rule.title, rule.level, rule.author, the event …)`;

function eventFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) for (const n of readdirSync(p).sort()) { if (!n.startsWith('.')) walk(join(p, n)); }
    else out.push(p);
  };
  for (const p of paths) walk(p);
  return out;
}

function line(a: Alert, file: string): string {
  const where = [a.host_id && `host ${a.host_id}`, a.process_entity_id && `process ${a.process_entity_id}`].filter(Boolean).join(', ');
  const what = a.events.length > 0 ? '' : ` events ${a.event_ids.length}${a.group_by ? ` ${JSON.stringify(a.group_by)}` : ''}`;
  return `${a.first_seen} [${a.rule.level}] ${a.rule.title} (${a.rule.id}) by ${a.rule.author ?? 'unknown author'}${where ? ` — ${where}` : ''}${what} — ${file}`;
}

export async function run(args: string[]): Promise<number> {
  const p = parseMultiArgs(args, ['json', 'help']);
  const rules = p.lists.rules ?? [];
  const events = p.lists.events ?? [];
  if (p.flags.has('help') || rules.length === 0 || events.length === 0) {
    console.log(USAGE);
    return p.flags.has('help') ? 0 : 2;
  }
  const json = p.flags.has('json');
  const compiled = compileSigma(loadRuleSources(rules), loadCompileOptions({ placeholders: single(p, 'placeholders'), fieldSchema: single(p, 'field-schema') }));
  const detector = new Detector(compiled);
  console.error(`vigil scan: ${detector.ruleSet.rules.length} rules, ${compiled.correlations.length} correlations loaded, ${compiled.rejected.length + detector.ruleSet.rejected.length} rejected (vigil rules check lists why)`);
  const tenant = single(p, 'tenant') ?? 'default';
  const report = emptyScanReport();
  const print = (file: string) => (a: Alert): void => {
    if (json) {
      const { events: evs, ...rest } = a;
      process.stdout.write(`${JSON.stringify({ ...rest, event: evs[0], file })}\n`);
    } else process.stdout.write(`${line(a, file)}\n`);
  };
  for (const path of eventFiles(events)) {
    try {
      for (const f of decodeEventFile(path, readFileSync(path))) scanText(detector, f.text, tenant, print(f.name), report);
    } catch (e) {
      report.errors++;
      console.error(`vigil scan: ${path}: ${(e as Error).message}`);
    }
  }
  for (const a of detector.flush()) { report.alerts++; print('(end of input)')(a); }
  console.error(`vigil scan: ${report.records} records, ${report.unclassified} not events, ${report.errors} unreadable, ${report.alerts} detections`);
  for (const e of report.firstErrors) console.error(`  ${e}`);
  return 0;
}
