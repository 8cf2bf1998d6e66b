// The rule index: literal scanners (Wu–Manber skip scanner, short-literal search, Aho–Corasick) each find
// exactly the patterns a lowercase substring search finds; literal groups a rule requires.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AhoCorasick } from '../../src/detect/aho.ts';
import { literalScanner, SkipScanner } from '../../src/detect/skipscan.ts';
import type { LiteralScanner } from '../../src/detect/skipscan.ts';
import { requiredLiteralGroups } from '../../src/sigma/predicate.ts';

function found(scanner: LiteralScanner, text: string): number[] {
  const ids = new Set<number>();
  scanner.scan(text, (id) => ids.add(id));
  return [...ids].sort((a, b) => a - b);
}

function expected(patterns: string[], text: string): number[] {
  const lower = text.toLowerCase();
  return patterns.flatMap((p, id) => (lower.includes(p) ? [id] : []));
}

/** Deterministic pseudo-random texts built from pattern pieces, case changes and filler. */
function texts(patterns: string[], count: number): string[] {
  let seed = 42;
  const rnd = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  const filler = ['C:\\Windows\\System32\\', ' -k netsvcs ', 'ÄÖÜ ß', '\u212a', 'x', '::', '.dll', '"'];
  return Array.from({ length: count }, () => {
    let t = '';
    while (t.length < 200) {
      const piece = rnd(3) === 0 ? patterns[rnd(patterns.length)] : filler[rnd(filler.length)];
      const cut = piece.slice(rnd(2), piece.length - rnd(2));
      t += rnd(2) === 0 ? cut.toUpperCase() : cut;
    }
    return t;
  });
}

const MIMIKATZ = ['sekurlsa::', 'lsadump::', 'kerberos::golden', 'privilege::debug', '\\mimilib.dll', 'gentilkiwi.com', 'misc::skeleton'];

test('the skip scanner finds every occurrence a lowercase search finds, across case and Latin-1 folding', () => {
  const s = new SkipScanner(MIMIKATZ);
  for (const t of texts(MIMIKATZ, 300)) assert.deepEqual(found(s, t), expected(MIMIKATZ, t), t);
  assert.deepEqual(found(s, 'SEKURLSA::LogonPasswords'), [0]);
  assert.deepEqual(found(s, '\u212aerberos::golden'), [2]); // KELVIN SIGN lowercases to k
  assert.deepEqual(found(s, 'lsadump:'), []);
});

test('literalScanner: long and short literals together, and many short or colliding literals', () => {
  for (const patterns of [MIMIKATZ, [...MIMIKATZ, '`', '${'], ['ab', 'x', 'dll', '.exe', 'cmd'], ['a', 'b', 'c', 'd', 'e', 'f']]) {
    const s = literalScanner(patterns);
    for (const t of texts(patterns, 200)) assert.deepEqual(found(s, t), expected(patterns, t), `${patterns.join(',')} in ${t}`);
  }
});

test('the automaton and the skip scanner agree on ASCII text', () => {
  const ac = new AhoCorasick(MIMIKATZ);
  const s = new SkipScanner(MIMIKATZ);
  for (const t of texts(MIMIKATZ, 200).map((x) => x.replace(/[^\x20-\x7e]/g, ' '))) assert.deepEqual(found(s, t), found(ac, t));
});

test('literal groups of a conjunction: the most selective set, plus every exact-value conjunct; negations add none', () => {
  const groups = requiredLiteralGroups({ op: 'and', children: [
    { field: 'CommandLine', op: 'contains', value: ' -enc ' },
    { field: 'GrantedAccess', op: 'equals', value: '0x1410' },
    { field: 'Image', op: 'endswith', value: '\\powershell.exe' },
    { op: 'not', child: { field: 'User', op: 'equals', value: 'SYSTEM' } },
  ] });
  assert.deepEqual(groups, [
    [{ field: 'GrantedAccess', lit: '0x1410', exact: true }],
  ]);
  const two = requiredLiteralGroups({ op: 'and', children: [
    { field: 'EventID', op: 'equals', value: '4624' },
    { field: 'LogonType', op: 'equals', value: '10' },
  ] });
  assert.equal(two.length, 2);
  assert.deepEqual(requiredLiteralGroups({ op: 'not', child: { field: 'a', op: 'equals', value: 'b' } }), []);
});
