// Exact data match: a synthetic CSV of 100,000 customer rows fingerprinted with a tenant key; text holding 3 of
// its rows gives one finding naming 3 matched records and no row value; the set's size and round trip; another
// tenant's key matches nothing; chunked scanning equals whole-text scanning; winnowed documents.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DETECTORS } from '../../src/dlp/detectors.ts';
import { buildDocumentSet, EdmMatcher } from '../../src/dlp/edm.ts';
import { fingerprintCsv, parseColumnChoice } from '../../src/dlp/dataset.ts';
import { Fingerprinter, FingerprintSet } from '../../src/dlp/fingerprint.ts';
import { ContentScanner, scanText } from '../../src/dlp/scanner.ts';
import { syntheticCsv, syntheticRow } from '../fixtures/dlp/synthetic.ts';

const KEY = new Uint8Array(32).fill(0x11);
const fp = await Fingerprinter.create(KEY);
const columns = parseColumnChoice('name:name,email:email,ssn:digits,card:card');
const set = fingerprintCsv(fp, 'customers', 'v1', syntheticCsv(100_000), columns);
const rows = [syntheticRow(17), syntheticRow(40_000), syntheticRow(99_999)];
const fileText = `export of ${new Date(0).toISOString()}\nname,email,ssn,card\n${rows.map((r) => r.join(',')).join('\n')}\nend of file\n`;

function assertNoValue(serialised: string): void {
  for (const r of rows) for (const v of r) assert.ok(!serialised.includes(v) && !serialised.includes(v.replace(/\D/g, '') || '\u0000'), `value ${v} leaked`);
}

test('100,000 rows × 4 columns: 400,000 fingerprints, about 10 bytes each', () => {
  assert.equal(set.size, 400_000);
  assert.ok(set.bytes / set.size < 12, `${set.bytes / set.size} bytes per fingerprint`);
  assert.deepEqual(set.meta.columns.map((c) => c.type), ['name', 'email', 'digits', 'card']);
});

test('a file holding 3 rows gives one finding naming 3 matched records, without any value', () => {
  const findings = scanText(fileText, { detectors: DETECTORS, edm: new EdmMatcher(fp, [set]) });
  const edm = findings.find((f) => f.kind === 'dataset')!;
  assert.equal(edm.name, 'customers');
  assert.equal(edm.count, 3);
  assert.equal(edm.cells, 12);
  assertNoValue(JSON.stringify(findings));
});

test('cells found as fields and tokens, reformatted, count too; one cell alone is not a record', () => {
  const r = rows[0]!;
  const prose = `${r[0]!.toUpperCase()}; paid with ${r[3]!.replace(/(\d{4})/g, '$1-').slice(0, -1)} today.\nOnly ${r[1]} here.\n`;
  const f = scanText(prose, { detectors: [], edm: new EdmMatcher(fp, [set]) });
  assert.equal(f.length, 1);
  assert.equal(f[0]!.count, 1, 'name + card on one line: one record; the e-mail alone on the next line is not');
  assert.equal(f[0]!.cells, 3);
});

test('the set survives serialisation; another tenant key matches nothing', async () => {
  const copy = FingerprintSet.deserialise(set.serialise());
  assert.equal(copy.size, set.size);
  assert.deepEqual(copy.meta, set.meta);
  assert.equal(scanText(fileText, { detectors: [], edm: new EdmMatcher(fp, [copy]) })[0]!.count, 3);
  const other = await Fingerprinter.create(new Uint8Array(32).fill(0x22));
  assert.deepEqual(scanText(fileText, { detectors: [], edm: new EdmMatcher(other, [copy]) }), []);
});

test('scanning in small pieces finds what scanning the whole text finds', () => {
  const text = `${'filler line without data\n'.repeat(3000)}card 4111 1111 1111 1111\n${fileText}${'x'.repeat(70_000)}\nssn 123-45-6788\n`;
  const whole = scanText(text, { detectors: DETECTORS, edm: new EdmMatcher(fp, [set]), chunkChars: 8192 });
  const scanner = new ContentScanner({ detectors: DETECTORS, edm: new EdmMatcher(fp, [set]), chunkChars: 8192 });
  for (let i = 0; i < text.length; i += 997) scanner.push(text.slice(i, i + 997));
  assert.deepEqual(scanner.finish(), whole);
  assert.equal(whole.find((f) => f.name === 'payment_card')!.count, 4, 'the card line and the 3 rows\' cards');
  assert.equal(whole.find((f) => f.name === 'customers')!.count, 3);
  assert.equal(whole.find((f) => f.name === 'us_ssn')!.count, 4);
});

test('documents: a passage of a protected document is found by its winnowed windows', async () => {
  const secret = 'Project Nightingale merger terms: the acquiring party will pay forty two dollars per share in cash, closing in the third quarter subject to regulatory approval in all jurisdictions. '.repeat(3);
  const docs = buildDocumentSet(fp, 'board-papers', 'v1', [secret]);
  assert.ok(docs.size > 5);
  const edm = new EdmMatcher(fp, [docs]);
  const leaked = `Fwd: see below\n> ${secret.slice(40, 260).toUpperCase()}\nthanks`;
  const hit = scanText(leaked, { detectors: [], edm });
  assert.equal(hit.length, 1);
  assert.ok(hit[0]!.count >= 3);
  assert.deepEqual(scanText('An unrelated note about the quarterly picnic and parking rules for the new building.', { detectors: [], edm }), []);
});
