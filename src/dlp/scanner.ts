// The content scanner: runs the chosen detectors and the EDM matcher over a text stream pushed in pieces, in
// bounded windows (a chunk plus an overlap, so a match across a chunk boundary is seen once, and a little left
// context for context words), and sums the matches into findings: per detector and per data set, a count, the
// highest confidence and a few masked excerpts. Memory is bounded by the window and the per-line record state,
// whatever the stream's length. A finding never holds a matched value, only masked excerpts. Pure.

import { detect, type Detector, type DetectorMatch } from './detectors.ts';
import type { EdmHit, EdmMatcher } from './edm.ts';

export interface ScanFinding {
  kind: 'detector' | 'dataset';
  /** Detector id or data set name. */
  name: string;
  /** Matches (detectors), matched records (record data sets) or matched windows (documents). */
  count: number;
  /** Protected cells seen (data sets). */
  cells?: number;
  confidence: number;
  excerpts: string[];
}

export interface ScannerOptions {
  detectors: readonly Detector[];
  edm?: EdmMatcher;
  /** Distinct protected cells on one line that make a record match (default: 2, or 1 for a one-column set). */
  minCells?: number;
  chunkChars?: number;
  maxExcerpts?: number;
}

const OVERLAP = 4096;
const LEFT_CONTEXT = 64;
const MAX_LINE = 64 * 1024;
const MAX_TRACKED_LINES = 100_000;

interface Tally { count: number; confidence: number; excerpts: string[]; cells?: Set<string> }

export class ContentScanner {
  private readonly opts: Required<Omit<ScannerOptions, 'edm' | 'minCells'>> & Pick<ScannerOptions, 'edm' | 'minCells'>;
  private pending = '';
  private left = '';
  private partialLine = '';
  private lineNo = 0;
  private scannedChars = 0;
  private readonly tallies = new Map<string, Tally>();
  /** Per (set, line): distinct protected cells seen, for record counting. */
  private readonly lineCells = new Map<string, Set<string>>();

  constructor(options: ScannerOptions) {
    this.opts = { chunkChars: 1 << 20, maxExcerpts: 5, ...options };
  }

  get chars(): number { return this.scannedChars; }

  push(text: string): void {
    this.scannedChars += text.length;
    this.pending += text;
    const step = this.opts.chunkChars;
    while (this.pending.length >= step + OVERLAP) {
      this.window(this.pending.slice(0, step + OVERLAP), step);
      this.left = this.pending.slice(Math.max(0, step - LEFT_CONTEXT), step);
      this.pending = this.pending.slice(step);
    }
    this.matchLines(text, false);
  }

  finish(): ScanFinding[] {
    this.window(this.pending, this.pending.length);
    this.pending = '';
    this.matchLines('', true);
    return this.findings();
  }

  /** Detectors over left context + `text`; matches starting in [0, limit) of `text` are kept. */
  private window(text: string, limit: number): void {
    const full = this.left + text;
    const skip = this.left.length;
    for (const m of detect(full, this.opts.detectors)) {
      if (m.start >= skip && m.start < skip + limit) this.tallyDetector(m);
    }
    this.opts.edm?.matchDocument(text, (h) => this.tallyDocument(h));
  }

  /** EDM over complete lines: the incomplete last line waits for the next piece (cut at MAX_LINE). */
  private matchLines(text: string, final: boolean): void {
    const edm = this.opts.edm;
    if (!edm || edm.empty) return;
    const buffered = this.partialLine + text;
    const cut = final ? buffered.length : buffered.lastIndexOf('\n') + 1;
    const complete = cut === 0 && buffered.length > MAX_LINE ? buffered : buffered.slice(0, cut);
    this.partialLine = buffered.slice(complete.length);
    if (complete.length === 0) return;
    edm.matchText(complete, this.lineNo, (h) => this.tallyCell(h));
    for (let i = complete.indexOf('\n'); i >= 0; i = complete.indexOf('\n', i + 1)) this.lineNo++;
    if (!complete.endsWith('\n')) this.lineNo++;
  }

  private tally(key: string): Tally {
    let t = this.tallies.get(key);
    if (!t) { t = { count: 0, confidence: 0, excerpts: [] }; this.tallies.set(key, t); }
    return t;
  }

  private addExcerpt(t: Tally, excerpt: string): void {
    if (t.excerpts.length < this.opts.maxExcerpts && !t.excerpts.includes(excerpt)) t.excerpts.push(excerpt);
  }

  private tallyDetector(m: DetectorMatch): void {
    const t = this.tally(`detector:${m.detector}`);
    t.count++;
    t.confidence = Math.max(t.confidence, m.confidence);
    this.addExcerpt(t, m.excerpt);
  }

  private tallyDocument(h: EdmHit): void {
    const t = this.tally(`dataset:${h.set}`);
    t.cells ??= new Set();
    if (t.cells.has(h.key)) return;
    t.cells.add(h.key);
    t.count++;
  }

  private tallyCell(h: EdmHit): void {
    const t = this.tally(`dataset:${h.set}`);
    t.cells ??= new Set();
    t.cells.add(h.key);
    const lineKey = `${h.set}:${h.line}`;
    let cells = this.lineCells.get(lineKey);
    if (!cells) {
      if (this.lineCells.size >= MAX_TRACKED_LINES) return;
      cells = new Set();
      this.lineCells.set(lineKey, cells);
    }
    if (cells.has(h.key)) return;
    cells.add(h.key);
    const set = this.opts.edm!.sets[h.set]!;
    const needed = this.opts.minCells ?? Math.min(2, set.meta.columns.length);
    if (cells.size === needed) {
      t.count++;
      t.confidence = 0.99;
    }
    if (cells.size <= needed) this.addExcerpt(t, h.excerpt);
  }

  private findings(): ScanFinding[] {
    const out: ScanFinding[] = [];
    for (const [key, t] of this.tallies) {
      if (t.count === 0) continue;
      const [kind, id] = key.split(':') as ['detector' | 'dataset', string];
      const name = kind === 'dataset' ? this.opts.edm!.sets[Number(id)]!.meta.name : id;
      const dataset = kind === 'dataset' ? this.opts.edm!.sets[Number(id)]! : undefined;
      out.push({
        kind, name, count: t.count, confidence: dataset?.meta.kind === 'document' ? Math.min(0.99, 0.5 + t.count / 20) : t.confidence,
        excerpts: t.excerpts, ...(t.cells ? { cells: t.cells.size } : {}),
      });
    }
    return out.sort((a, b) => b.confidence - a.confidence || a.name.localeCompare(b.name));
  }
}

/** Scans one whole text (tests, small inputs). */
export function scanText(text: string, options: ScannerOptions): ScanFinding[] {
  const s = new ContentScanner(options);
  s.push(text);
  return s.finish();
}
