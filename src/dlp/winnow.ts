// Winnowing (Schleimer, Wilkerson, Aiken 2003) over normalised document text: a keyed rolling hash of every
// k-character window, and in every run of w consecutive window hashes the minimum (rightmost on ties) is selected.
// Any passage shared with a protected document that is at least k + w − 1 normalised characters long shares at
// least one selected window; about 2 / (w + 1) of the windows are selected. The selected windows are then
// fingerprinted with keyed BLAKE3 (fingerprint.ts); the rolling hash only chooses them and feeds the prefilter.
// Pure.

export const WINNOW_K = 40;
export const WINNOW_W = 24;

const DIACRITICS = /[\u0300-\u036f]/g;
const NON_WORD = /[^\p{L}\p{N}]+/gu;

/** Lower case, diacritics and punctuation removed, every run of other characters one space. */
export function normaliseDocument(text: string): string {
  return text.normalize('NFKD').replace(DIACRITICS, '').toLowerCase().replace(NON_WORD, ' ');
}

function mix(h: number): number {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * Calls `emit(position, hash)` for each selected window of `text` (already normalised), in order, each position
 * once. `seed` keys the rolling hash (the tenant's fingerprinter seed).
 */
export function winnow(text: string, seed: number, emit: (position: number, hash: number) => void, k = WINNOW_K, w = WINNOW_W): void {
  const n = text.length - k + 1;
  if (n <= 0) return;
  const base = (seed | 1) >>> 0;
  let pow = 1;
  for (let i = 0; i < k - 1; i++) pow = Math.imul(pow, base);
  let h = 0;
  for (let i = 0; i < k; i++) h = (Math.imul(h, base) + text.charCodeAt(i)) | 0;
  const ring = new Uint32Array(w);
  let lastSelected = -1;
  for (let i = 0; i < n; i++) {
    if (i > 0) h = (Math.imul((h - Math.imul(text.charCodeAt(i - 1), pow)) | 0, base) + text.charCodeAt(i + k - 1)) | 0;
    ring[i % w] = mix(h ^ seed);
    if (i < w - 1) continue;
    let min = i;
    for (let j = i - 1; j > i - w; j--) if (ring[j % w]! < ring[min % w]!) min = j;
    if (min !== lastSelected) { emit(min, ring[min % w]!); lastSelected = min; }
  }
  if (n < w) {
    let min = n - 1;
    for (let j = n - 2; j >= 0; j--) if (ring[j % w]! < ring[min % w]!) min = j;
    emit(min, ring[min % w]!);
  }
}
