// Normalisation of protected cells per column type, applied alike when a data set is fingerprinted (server) and
// when a candidate is looked up (agent, CLI), so `4111-1111 1111 1111`, ` 4111111111111111` and the cell
// `4111111111111111` give one fingerprint. Pure.

export const COLUMN_TYPES = ['card', 'digits', 'id', 'email', 'name', 'text'] as const;
export type ColumnType = typeof COLUMN_TYPES[number];

/** One byte per column type, prefixed to the normalised value before hashing (domain separation). */
export const COLUMN_TAG: Record<ColumnType | 'document', number> = { card: 1, digits: 2, id: 3, email: 4, name: 5, text: 6, document: 7 };

/** Shortest normalised value worth fingerprinting per type: shorter values would match by chance. */
export const MIN_LENGTH: Record<ColumnType, number> = { card: 12, digits: 6, id: 5, email: 6, name: 5, text: 8 };
export const MAX_CELL_LENGTH = 256;

const NON_DIGIT = /\D+/g;
const NON_ALNUM = /[^A-Z0-9]+/g;
const DIACRITICS = /[\u0300-\u036f]/g;
const NON_WORD = /[^\p{L}\p{N}]+/gu;
const NOT_PRINTABLE_ASCII = /[^\x20-\x7e]/;
const NON_ASCII_WORD = /[^a-z0-9]+/g;

/** Lower case, diacritics and punctuation removed, words separated by one space (an ASCII fast path). */
export function normaliseWords(raw: string): string {
  if (!NOT_PRINTABLE_ASCII.test(raw)) return raw.toLowerCase().replace(NON_ASCII_WORD, ' ').trim();
  return raw.normalize('NFKD').replace(DIACRITICS, '').toLowerCase().replace(NON_WORD, ' ').trim();
}

/** The normalised form of a cell of this type, or null when it is too short (or not of the type) to fingerprint. */
export function normaliseCell(type: ColumnType, raw: string): string | null {
  if (raw.length > MAX_CELL_LENGTH) return null;
  let v: string;
  switch (type) {
    case 'card': v = raw.replace(NON_DIGIT, ''); if (v.length > 19) return null; break;
    case 'digits': v = raw.replace(NON_DIGIT, ''); break;
    case 'id': v = raw.toUpperCase().replace(NON_ALNUM, ''); break;
    case 'email': v = raw.trim().toLowerCase(); if (!v.includes('@') || /\s/.test(v)) return null; break;
    case 'name':
    case 'text': v = normaliseWords(raw); break;
  }
  return v.length >= MIN_LENGTH[type] ? v : null;
}

/** Types whose values are one token and may be found anywhere in free text (not only as a whole field). */
export function isTokenType(type: ColumnType): boolean {
  return type === 'card' || type === 'digits' || type === 'id' || type === 'email';
}

export function isColumnType(v: unknown): v is ColumnType {
  return typeof v === 'string' && (COLUMN_TYPES as readonly string[]).includes(v);
}
