// Event input formats for `vigil scan` and the Windows import path: JSON lines, JSON arrays, concatenated
// (possibly pretty-printed) JSON objects, evtx_dump-style JSON, each plain, zipped, gzipped or in a
// (gzipped) tar. Bad records are counted and skipped; the good records beside them are kept. A truncated
// archive yields what it holds. Pure: works on bytes and text.

import { unzipSync } from 'fflate';
import { constants, gunzipSync } from 'node:zlib';

export interface DecodedFile { name: string; text: string }

export interface ParseReport { records: number; errors: number; firstErrors: string[] }

const MAX_ERRORS_KEPT = 5;
const decoder = new TextDecoder();

function isZip(b: Uint8Array): boolean { return b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04; }
function isGzip(b: Uint8Array): boolean { return b[0] === 0x1f && b[1] === 0x8b; }
function isTar(b: Uint8Array): boolean { return b.length >= 512 && decoder.decode(b.subarray(257, 262)) === 'ustar'; }

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return decoder.decode(end < 0 ? b : b.subarray(0, end));
}

/** The regular files of a tar archive; a truncated last member keeps the bytes present. */
function untar(b: Uint8Array): { name: string; bytes: Uint8Array }[] {
  const out: { name: string; bytes: Uint8Array }[] = [];
  for (let off = 0; off + 512 <= b.length;) {
    const header = b.subarray(off, off + 512);
    const name = cString(header.subarray(0, 100));
    if (name === '') break;
    const size = parseInt(cString(header.subarray(124, 136)).trim() || '0', 8);
    const type = String.fromCharCode(header[156] || 0x30);
    if (type === '0' || type === '\0') out.push({ name, bytes: b.subarray(off + 512, Math.min(b.length, off + 512 + size)) });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

/** Unpacks a file's bytes into the text files it holds (itself, when it is plain text). */
export function decodeEventFile(name: string, bytes: Uint8Array): DecodedFile[] {
  if (isZip(bytes)) {
    return Object.entries(unzipSync(bytes)).filter(([n]) => !n.endsWith('/')).flatMap(([n, b]) => decodeEventFile(`${name}!${n}`, b));
  }
  if (isGzip(bytes)) {
    const inner = gunzipSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH });
    return decodeEventFile(name.replace(/\.gz$/i, ''), inner);
  }
  if (isTar(bytes)) return untar(bytes).flatMap((f) => decodeEventFile(`${name}!${f.name}`, f.bytes));
  return [{ name, text: decoder.decode(bytes) }];
}

/** Splits concatenated JSON values at depth 0 (strings and escapes honoured). */
function* jsonChunks(text: string): Generator<string> {
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) { if (depth++ === 0) start = i; } else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) { yield text.slice(start, i + 1); start = -1; }
      if (depth < 0) depth = 0;
    }
  }
  if (start >= 0) yield text.slice(start);
}

function firstLine(text: string): string {
  const m = /^\s*([^\n]*)/.exec(text);
  return m ? m[1].trim() : '';
}

function parsesAsObject(s: string): boolean {
  try { const v = JSON.parse(s) as unknown; return v !== null && typeof v === 'object'; } catch { return false; }
}

/**
 * Calls `onRecord` for every JSON object in `text` (an array's elements, one per line, or concatenated),
 * counting what does not parse.
 */
export function parseEvents(text: string, onRecord: (r: unknown) => void, report: ParseReport = { records: 0, errors: 0, firstErrors: [] }): ParseReport {
  const bad = (what: string, e: unknown): void => {
    report.errors++;
    if (report.firstErrors.length < MAX_ERRORS_KEPT) report.firstErrors.push(`${what}: ${(e as Error).message}`);
  };
  const emit = (v: unknown): void => {
    if (Array.isArray(v)) { for (const x of v) emit(x); return; }
    if (v === null || typeof v !== 'object') { bad('record', new Error('not a JSON object')); return; }
    report.records++;
    onRecord(v);
  };
  const head = firstLine(text);
  if (head.startsWith('{') && parsesAsObject(head)) {
    let lineNo = 0;
    for (const line of text.split('\n')) {
      lineNo++;
      if (line.trim() === '') continue;
      try { emit(JSON.parse(line)); } catch (e) { bad(`line ${lineNo}`, e); }
    }
    return report;
  }
  for (const chunk of jsonChunks(text)) {
    try { emit(JSON.parse(chunk)); } catch (e) { bad(`object at '${chunk.slice(0, 40)}'`, e); }
  }
  return report;
}
