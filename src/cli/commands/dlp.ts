// `vigil dlp scan [--dataset FILE.csv --columns a,b] [--json] PATH…`: runs the agent's DLP detectors and EDM
// matcher over files or directories and prints one finding per line (file, detector or data set, count,
// confidence, masked excerpts); exit 0 with or without findings. A data set is fingerprinted in memory with a
// key drawn for this run; nothing is written. Operators use it to tune policies before pushing them.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DETECTOR_IDS, selectDetectors } from '../../dlp/detectors.ts';
import { fingerprintCsv, parseColumnChoice } from '../../dlp/dataset.ts';
import { EdmMatcher } from '../../dlp/edm.ts';
import { Fingerprinter } from '../../dlp/fingerprint.ts';
import { ContentScanner, type ScanFinding } from '../../dlp/scanner.ts';
import { scanFile } from '../../agent/dlp/file-scan.ts';

export const summary = 'data-loss prevention: scan files for card numbers, identifiers, secrets and protected data sets';

const USAGE = `usage: vigil dlp scan [--dataset FILE.csv --columns COL[:TYPE],…] [--detectors ID,…] [--max-bytes N] [--json] PATH…
  --dataset    a CSV with a header row whose chosen columns are protected (exact data match)
  --columns    the protected columns, each with a type: card, digits, id, email, name, text
               (e.g. name:name,email:email,ssn:digits,card_number:card; a bare name is typed by its name)
  --min-cells  distinct protected cells on one line that make a record match (default 2; 1 for one column)
  --detectors  content detectors to run (default all): ${DETECTOR_IDS.join(', ')}
  --max-bytes  bytes read per file (default 64 MiB)
  --json       one JSON object per finding`;

function files(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (p: string): void => {
    if (statSync(p).isDirectory()) { for (const n of readdirSync(p).sort()) if (!n.startsWith('.')) walk(join(p, n)); }
    else out.push(p);
  };
  for (const p of paths) walk(p);
  return out;
}

function line(file: string, f: ScanFinding): string {
  const what = f.kind === 'dataset' ? `dataset ${f.name}` : f.name;
  const count = f.kind === 'dataset' ? `${f.count} records (${f.cells} cells)` : `${f.count}`;
  return `${file}\t${what}\t${count}\tconfidence ${f.confidence.toFixed(2)}\t${f.excerpts.join(' | ')}`;
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args, allowPositionals: true, strict: true,
    options: {
      dataset: { type: 'string' }, columns: { type: 'string' }, 'min-cells': { type: 'string' }, detectors: { type: 'string' },
      'max-bytes': { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  const [sub, ...paths] = positionals;
  if (values.help || sub !== 'scan' || paths.length === 0) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const ids = values.detectors?.split(',').map((s) => s.trim()).filter(Boolean);
  const unknown = ids?.filter((id) => !(DETECTOR_IDS as readonly string[]).includes(id)) ?? [];
  if (unknown.length > 0) { console.error(`vigil dlp: unknown detectors ${unknown.join(', ')}`); return 2; }
  if ((values.dataset === undefined) !== (values.columns === undefined)) { console.error('vigil dlp: --dataset and --columns go together'); return 2; }
  const detectors = selectDetectors(ids);
  const fp = await Fingerprinter.create(randomBytes(32));
  const sets = values.dataset
    ? [fingerprintCsv(fp, values.dataset.replace(/^.*\//, ''), 'cli', readFileSync(values.dataset, 'utf8'), parseColumnChoice(values.columns!))]
    : [];
  if (sets[0]) console.error(`vigil dlp: ${sets[0].size} fingerprints from ${sets[0].meta.rows} rows of ${values.dataset} (${(sets[0].bytes / 2 ** 20).toFixed(1)} MiB)`);
  const edm = new EdmMatcher(fp, sets);
  const minCells = values['min-cells'] ? Number(values['min-cells']) : undefined;
  const maxFileBytes = values['max-bytes'] ? Number(values['max-bytes']) : 64 * 2 ** 20;
  for (const file of files(paths)) {
    const scanner = new ContentScanner({ detectors, edm, ...(minCells ? { minCells } : {}) });
    const result = await scanFile(file, scanner, { maxFileBytes, bytesPerSecond: 0 });
    if (result.skipped) console.error(`vigil dlp: ${file}: skipped (${result.skipped})`);
    for (const f of result.findings) {
      process.stdout.write(`${values.json ? JSON.stringify({ file, ...f, truncated: result.truncated }) : line(file, f)}\n`);
    }
  }
  return 0;
}
