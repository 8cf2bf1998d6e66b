// `vigil dlp scan`: a protected CSV and a directory of files; one JSON finding per line, exit 0, no value printed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticCsv, syntheticRow } from '../fixtures/dlp/synthetic.ts';

const MAIN = new URL('../../src/cli/main.ts', import.meta.url).pathname;

test('vigil dlp scan prints one finding per line, masked, and exits 0', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-dlp-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'customers.csv'), syntheticCsv(2_000));
  mkdirSync(join(dir, 'share'));
  const rows = [syntheticRow(3), syntheticRow(1_500)];
  writeFileSync(join(dir, 'share', 'export.csv'), `${rows.map((r) => r.join(';')).join('\n')}\n`);
  writeFileSync(join(dir, 'share', 'notes.txt'), 'pay to IBAN DE89 3704 0044 0532 0130 00 please\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB\n');
  writeFileSync(join(dir, 'share', 'clean.txt'), 'nothing to see here, order 1234 shipped\n');
  const out = execFileSync(process.execPath, [MAIN, 'dlp', 'scan', '--dataset', join(dir, 'customers.csv'), '--columns', 'name:name,email:email,ssn:digits,card:card', '--json', join(dir, 'share')], { encoding: 'utf8' });
  const findings = out.trim().split('\n').map((l) => JSON.parse(l) as { file: string; kind: string; name: string; count: number; excerpts: string[] });
  const of = (file: string, name: string) => findings.find((f) => f.file.endsWith(file) && f.name === name);
  assert.equal(of('export.csv', 'customers.csv')?.count, 2);
  assert.equal(of('notes.txt', 'iban')?.count, 1);
  assert.equal(of('notes.txt', 'pem_private_key')?.count, 1);
  assert.ok(!findings.some((f) => f.file.endsWith('clean.txt')));
  for (const v of rows.flat()) assert.ok(!out.includes(v), `${v} printed`);
  assert.ok(!out.includes('DE89 3704 0044 0532 0130 00'));
  const text = execFileSync(process.execPath, [MAIN, 'dlp', 'scan', join(dir, 'share', 'notes.txt')], { encoding: 'utf8' });
  assert.match(text, /notes\.txt\tiban\t1\tconfidence 0\.99\tDE\*\* \*\*\*\* \*\*\*\* \*\*\*\* \*\*30 00/);
});
