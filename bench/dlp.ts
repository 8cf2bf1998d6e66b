// Benchmark of the DLP engine on one core: 1,000,000 keyed BLAKE3 fingerprints loaded (250,000 synthetic customer
// rows × 4 columns), every content detector on, over a 32 MiB mixed stream (log lines, prose, JSON, CSV with a few
// protected rows, the labelled corpus) pushed in 64 KiB pieces like the agent's reader; the best of 3 runs. That
// stream is dense in matches (≈ 1,500 detector matches per MiB: a corpus line every ~500 bytes), so a second figure
// scans realistic text with sparse sensitive values: this repository's source code and documentation interleaved
// with service log lines, one labelled positive sample per 64 KiB and one protected row per MiB.
// Also: bytes held by the fingerprint set, process RSS, and precision/recall per detector on the labelled corpus
// (min over validated detectors). Last line:
// {"bench":"dlp","mb_per_s":…,"mb_per_s_sparse":…,"fingerprints":1000000,"fingerprint_mb":…,"precision_min":…,"recall_min":…}

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DETECTORS } from '../src/dlp/detectors.ts';
import { buildRecordSet, EdmMatcher } from '../src/dlp/edm.ts';
import { evaluate, type LabelledSample } from '../src/dlp/evaluate.ts';
import { Fingerprinter } from '../src/dlp/fingerprint.ts';
import { ContentScanner } from '../src/dlp/scanner.ts';
import { SYNTHETIC_COLUMNS, syntheticRow } from '../test/fixtures/dlp/synthetic.ts';

const { values: opts } = parseArgs({ options: { mb: { type: 'string', default: '32' }, runs: { type: 'string', default: '3' } } });
const fixtures = join(import.meta.dirname, '../test/fixtures/dlp');
const corpus = readFileSync(join(fixtures, 'corpus.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as LabelledSample);

const rssBefore = process.memoryUsage().rss;
const fp = await Fingerprinter.create(new Uint8Array(32).fill(0x5a));
const ROWS = 250_000;
const types = { name: 'name', email: 'email', ssn: 'digits', card: 'card' } as const;
const buildStart = performance.now();
function* rows(): Generator<string[]> { for (let i = 0; i < ROWS; i++) yield syntheticRow(i); }
const set = buildRecordSet(fp, 'customers', 'bench', SYNTHETIC_COLUMNS.map((name, index) => ({ index, column: { name, type: types[name] } })), rows());
const buildMs = performance.now() - buildStart;
const edm = new EdmMatcher(fp, [set]);
globalThis.gc?.();
const rssWithSet = process.memoryUsage().rss;

/** The stream: a repeating mix of typical file content, with 3 protected rows per MiB. */
function stream(totalBytes: number): string {
  const parts: string[] = [];
  let size = 0;
  let i = 0;
  while (size < totalBytes) {
    const block = [
      `2026-12-08T01:${String(i % 60).padStart(2, '0')}:11.482Z INFO http request id=${(i * 2654435761 >>> 0).toString(16)} method=GET path=/api/v1/items/${i} status=200 duration_ms=${i % 997}`,
      'The quarterly report covers revenue, churn and the roadmap for the next two quarters; figures are preliminary and subject to audit.',
      `{"user":"u${i}","action":"login","ip":"10.${i % 255}.${(i >> 8) % 255}.7","ok":true,"ts":${1_700_000_000 + i}}`,
      corpus[i % corpus.length]!.text,
      `${i},widget-${i % 97},${(i % 1000) / 10},in stock,warehouse ${i % 13}`,
    ].join('\n');
    parts.push(block, '\n');
    size += block.length + 1;
    if (i % 2000 === 0) { const r = syntheticRow(i * 37 % ROWS); parts.push(`${r.join(',')}\n`); size += 80; }
    i++;
  }
  return parts.join('');
}

/** Source files and documents of this repository (sorted, so the stream is the same for a given checkout). */
function repositoryTexts(): string[] {
  const root = join(import.meta.dirname, '..');
  const files = readdirSync(join(root, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).sort().map((f) => join(root, 'src', f));
  const docs = readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => join(root, 'docs', f));
  return [...files, ...docs].map((f) => readFileSync(f, 'utf8'));
}

/** The sparse stream: source code, documentation and log lines; a positive corpus sample per 64 KiB, a protected row per MiB. */
function sparseStream(totalBytes: number): string {
  const texts = repositoryTexts();
  const positives = corpus.filter((s) => s.label === 'positive');
  const parts: string[] = [];
  let size = 0;
  let nextSample = 0;
  let nextRow = 0;
  for (let i = 0; size < totalBytes; i++) {
    const block = `${texts[i % texts.length]!}\n${Array.from({ length: 40 }, (_, j) => `2026-12-08T01:${String(j % 60).padStart(2, '0')}:11.482Z INFO worker ${i % 7} job=${(i * 40 + j) * 2654435761 >>> 0} queue=ingest took ${j * 3 % 250} ms`).join('\n')}\n`;
    parts.push(block);
    size += block.length;
    if (size >= nextSample) { parts.push(`${positives[(nextSample >> 16) % positives.length]!.text}\n`); nextSample += 65536; }
    if (size >= nextRow) { parts.push(`${syntheticRow((nextRow >> 20) * 7919 % ROWS).join(',')}\n`); nextRow += 1 << 20; }
  }
  return parts.join('');
}

/** One scan of `text`; time is the process's CPU time (user + system), so "per core" holds on a shared host. */
function scan(text: string): { ms: number; wallMs: number; records: number; matches: number } {
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  const scanner = new ContentScanner({ detectors: DETECTORS, edm });
  for (let off = 0; off < text.length; off += 65536) scanner.push(text.slice(off, off + 65536));
  const findings = scanner.finish();
  const used = process.cpuUsage(cpu);
  return {
    ms: (used.user + used.system) / 1000, wallMs: performance.now() - t0,
    records: findings.find((f) => f.name === 'customers')?.count ?? 0,
    matches: findings.filter((f) => f.kind === 'detector').reduce((n, f) => n + f.count, 0),
  };
}
/** Scans `text` `opts.runs` times: the runs, the best MiB per CPU second, matches per MiB. */
function measure(text: string): { runs: ReturnType<typeof scan>[]; mib: number; mbPerS: number; perMib: number } {
  const mib = Buffer.byteLength(text) / 2 ** 20;
  const runs = Array.from({ length: Math.max(1, Number(opts.runs)) }, () => scan(text));
  const best = Math.min(...runs.map((r) => r.ms));
  return { runs, mib, mbPerS: Math.round(mib / (best / 1000) * 10) / 10, perMib: Math.round(runs[0]!.matches / mib) };
}
const dense = measure(stream(Number(opts.mb) * 1024 * 1024));
const sparse = measure(sparseStream(Number(opts.mb) * 1024 * 1024));

const scores = evaluate(corpus);
const validated = scores.filter((s) => s.validated);
for (const s of scores) console.log(`${s.detector.padEnd(26)} ${s.validated ? 'validated' : 'heuristic'} precision ${s.precision.toFixed(3)} recall ${s.recall.toFixed(3)} (tp ${s.tp} fp ${s.fp} fn ${s.fn})`);
console.log(`set: ${set.size} fingerprints built in ${(buildMs / 1000).toFixed(1)} s, ${set.bytes} bytes (${(set.bytes / set.size).toFixed(2)} bytes per fingerprint); RSS +${((rssWithSet - rssBefore) / 2 ** 20).toFixed(1)} MiB`);
for (const [name, m] of [['dense', dense], ['sparse', sparse]] as const) {
  console.log(`scan ${name}: ${m.mib.toFixed(1)} MiB, CPU ${m.runs.map((r) => r.ms.toFixed(0)).join(' / ')} ms (wall ${m.runs.map((r) => r.wallMs.toFixed(0)).join(' / ')} ms), ${m.mbPerS} MiB/s, detector matches ${m.runs[0]!.matches} (${m.perMib} per MiB), protected records matched ${m.runs[0]!.records}`);
}
console.log(JSON.stringify({
  bench: 'dlp', mb_per_s: dense.mbPerS, matches_per_mib: dense.perMib, mb_per_s_sparse: sparse.mbPerS, matches_per_mib_sparse: sparse.perMib, fingerprints: set.size,
  fingerprint_mb: Math.round(set.bytes / 2 ** 20 * 100) / 100, bytes_per_fingerprint: Math.round(set.bytes / set.size * 100) / 100,
  rss_mb: Math.round(rssWithSet / 2 ** 20), precision_min: Math.min(...validated.map((s) => s.precision)),
  recall_min: Math.min(...validated.map((s) => s.recall)), detectors: DETECTORS.length,
}));
