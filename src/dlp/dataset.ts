// Protected data sets from their upload form: a CSV (header row, chosen columns with a type each) becomes rows
// of cells for buildRecordSet; validation of the column choice gives precise errors. The CSV text is parsed in
// memory and never kept. Pure.

import { parse } from 'csv-parse/sync';
import { Fingerprinter, FingerprintSet } from './fingerprint.ts';
import { buildRecordSet } from './edm.ts';
import { isColumnType, type ColumnType } from './normalise.ts';

export const MAX_DATASET_ROWS = 2_000_000;

export interface ColumnChoice { name: string; type: ColumnType }

/** Column names to types: `name:type` entries (`card_number:card,mail:email`); a bare name is typed by guess. */
export function parseColumnChoice(spec: string): ColumnChoice[] {
  return spec.split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    const [name, type] = entry.split(':').map((x) => x.trim());
    if (type !== undefined && !isColumnType(type)) throw new Error(`column ${name}: unknown type '${type}' (card, digits, id, email, name, text)`);
    return { name: name!, type: (type as ColumnType | undefined) ?? guessType(name!) };
  });
}

/** A type from a column's name: card/pan → card; mail → email; ssn/phone/account → digits; name → name; else id. */
export function guessType(column: string): ColumnType {
  const c = column.toLowerCase();
  if (/card|pan\b|ccn/.test(c)) return 'card';
  if (/mail/.test(c)) return 'email';
  if (/ssn|phone|tel|account|iban|number|num\b/.test(c)) return 'digits';
  if (/name/.test(c)) return 'name';
  return 'id';
}

/** Fingerprints the chosen columns of a CSV with a header row. Throws with a precise message on bad input. */
export function fingerprintCsv(fp: Fingerprinter, name: string, version: string, csv: string, columns: readonly ColumnChoice[]): FingerprintSet {
  if (columns.length === 0) throw new Error('choose at least one column');
  const records = parse(csv, { relax_column_count: true, skip_empty_lines: true, bom: true, trim: false }) as string[][];
  const header = records.shift();
  if (!header) throw new Error('the CSV is empty');
  if (records.length > MAX_DATASET_ROWS) throw new Error(`the CSV has more than ${MAX_DATASET_ROWS} rows`);
  const chosen = columns.map((column) => {
    const index = header.findIndex((h) => h.trim().toLowerCase() === column.name.toLowerCase());
    if (index < 0) throw new Error(`column '${column.name}' is not in the CSV header (${header.join(', ')})`);
    return { index, column };
  });
  return buildRecordSet(fp, name, version, chosen, records);
}
