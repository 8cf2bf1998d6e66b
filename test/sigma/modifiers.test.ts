// Vectors for every Sigma value modifier, wildcards, escaping and null, written from the specification.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base64Offsets, windash } from '../../src/sigma/values.ts';
import { matcher, rejection, rule } from './helpers.ts';

const m = (det: string): ((ev: Record<string, unknown>) => boolean) => matcher(rule(`sel:\n${det.replace(/^/gm, '  ')}\ncondition: sel`));

test('plain values match whole, case-insensitively; lists are OR', () => {
  const f = m("Image:\n  - 'C:\\Windows\\cmd.exe'\n  - 'x'");
  assert.equal(f({ Image: 'c:\\windows\\CMD.EXE' }), true);
  assert.equal(f({ Image: 'X' }), true);
  assert.equal(f({ Image: 'c:\\windows\\cmd.exe2' }), false);
  assert.equal(f({}), false);
});

test('contains, startswith, endswith and all', () => {
  assert.equal(m("CommandLine|contains: ' -e '")({ CommandLine: 'nc 1.2.3.4 -E /bin/sh' }), true);
  assert.equal(m("CommandLine|startswith: 'nc '")({ CommandLine: 'ncat x' }), false);
  assert.equal(m("Image|endswith: '/nc'")({ Image: '/usr/bin/nc' }), true);
  assert.equal(m("Image|endswith: '/nc'")({ Image: '/usr/bin/nc2' }), false);
  const all = m("CommandLine|contains|all:\n  - 'a'\n  - 'b'");
  assert.equal(all({ CommandLine: 'xaxbx' }), true);
  assert.equal(all({ CommandLine: 'xax' }), false);
});

test('wildcards * and ?, and their escaping with backslash', () => {
  const f = m("F: 'a*c?e'");
  assert.equal(f({ F: 'abbbcde' }), true);
  assert.equal(f({ F: 'acde' }), true);
  assert.equal(f({ F: 'ace' }), false);
  const lit = m("F: 'a\\*b\\?'");
  assert.equal(lit({ F: 'a*b?' }), true);
  assert.equal(lit({ F: 'axb?' }), false);
  const bs = m("F: 'a\\\\*'"); // escaped backslash followed by a wildcard
  assert.equal(bs({ F: 'a\\anything' }), true);
  assert.equal(bs({ F: 'a' }), false);
  const plainBackslash = m("F: 'C:\\Windows\\'");
  assert.equal(plainBackslash({ F: 'C:\\Windows\\' }), true);
});

test('null matches a missing or null field; exists tests presence', () => {
  const f = m('F: null');
  assert.equal(f({}), true);
  assert.equal(f({ F: null }), true);
  assert.equal(f({ F: '' }), false);
  assert.equal(m('F|exists: true')({ F: '' }), true);
  assert.equal(m('F|exists: true')({}), false);
  assert.equal(m('F|exists: false')({}), true);
});

test('re with i, m and s flags; re is case-sensitive by default', () => {
  assert.equal(m("F|re: 'ab+c'")({ F: 'xabbbc' }), true);
  assert.equal(m("F|re: 'ABC'")({ F: 'abc' }), false);
  assert.equal(m("F|re|i: 'ABC'")({ F: 'abc' }), true);
  assert.equal(m("F|re|m: '^b$'")({ F: 'a\nb\nc' }), true);
  assert.equal(m("F|re: '^b$'")({ F: 'a\nb\nc' }), false);
  assert.equal(m("F|re|s: 'a.b'")({ F: 'a\nb' }), true);
  assert.equal(m("F|re: 'a.b'")({ F: 'a\nb' }), false);
  // a leading repeated item (reduced for speed) finds the same texts
  assert.equal(m("F|re: '\\w+`(\\w+|-|.)`[\\w+|\\s]'")({ F: 'IN`V`oke-eXp`ResSIOn' }), true);
  assert.equal(m("F|re: '\\w+`x'")({ F: ' `x' }), false);
  assert.equal(m("F|re: '[a-z]+?\\d'")({ F: 'ABC abc1' }), true);
  assert.match(rejection(rule("sel:\n  F|re: '(unclosed'\ncondition: sel")), /invalid regular expression/);
  assert.match(rejection(rule("sel:\n  F|i: 'x'\ncondition: sel")), /without a preceding 're'/);
});

test('cased makes comparison case-sensitive', () => {
  const f = m("F|cased: 'Abc'");
  assert.equal(f({ F: 'Abc' }), true);
  assert.equal(f({ F: 'abc' }), false);
  assert.equal(m("F|contains|cased: 'B'")({ F: 'aBc' }), true);
  assert.equal(m("F|contains|cased: 'B'")({ F: 'abc' }), false);
});

test('neq negates; lt, lte, gt, gte compare numbers (strings holding numbers too)', () => {
  assert.equal(m("F|neq: 'x'")({ F: 'y' }), true);
  assert.equal(m("F|neq: 'x'")({ F: 'X' }), false);
  assert.equal(m('F|lt: 10')({ F: 9 }), true);
  assert.equal(m('F|lt: 10')({ F: 10 }), false);
  assert.equal(m('F|lte: 10')({ F: '10' }), true);
  assert.equal(m('F|gt: 10')({ F: 10.5 }), true);
  assert.equal(m('F|gte: 10')({ F: 9 }), false);
  assert.equal(m('F|gt: 10')({ F: 'abc' }), false);
  assert.match(rejection(rule("sel:\n  F|gt: 'abc'\ncondition: sel")), /needs a number/);
});

test('cidr matches IPv4 and IPv6 networks at their edges', () => {
  const v4 = m("Ip|cidr: '10.0.0.0/8'");
  assert.equal(v4({ Ip: '10.0.0.0' }), true);
  assert.equal(v4({ Ip: '10.255.255.255' }), true);
  assert.equal(v4({ Ip: '11.0.0.0' }), false);
  assert.equal(v4({ Ip: '9.255.255.255' }), false);
  const odd = m("Ip|cidr: '192.168.1.128/25'");
  assert.equal(odd({ Ip: '192.168.1.128' }), true);
  assert.equal(odd({ Ip: '192.168.1.127' }), false);
  assert.equal(m("Ip|cidr: '0.0.0.0/0'")({ Ip: '8.8.8.8' }), true);
  assert.equal(m("Ip|cidr: '1.2.3.4/32'")({ Ip: '1.2.3.5' }), false);
  const v6 = m("Ip|cidr: 'fe80::/10'");
  assert.equal(v6({ Ip: 'fe80::1' }), true);
  assert.equal(v6({ Ip: 'febf:ffff::1' }), true);
  assert.equal(v6({ Ip: 'fec0::1' }), false);
  assert.equal(v6({ Ip: '10.0.0.1' }), false);
  assert.equal(m("Ip|cidr: '::ffff:0:0/96'")({ Ip: '::ffff:10.1.2.3' }), true);
  assert.match(rejection(rule("sel:\n  Ip|cidr: 'nonsense'\ncondition: sel")), /cidr/);
});

test('windash expands every dash position to -, /, en dash, em dash and horizontal bar', () => {
  assert.deepEqual(windash('-a'), ['-a', '/a', '\u2013a', '\u2014a', '\u2015a']);
  const two = windash('x -a -b');
  assert.equal(two.length, 25);
  assert.ok(two.includes('x /a \u2014b'));
  assert.deepEqual(windash('re-run'), ['re-run']); // a dash inside a word is not a flag
  const f = m("CommandLine|windash|contains: ' -enc '");
  for (const d of ['-', '/', '\u2013', '\u2014', '\u2015']) assert.equal(f({ CommandLine: `powershell ${d}enc AAA` }), true, d);
  assert.equal(f({ CommandLine: 'powershell +enc AAA' }), false);
});

test('base64 encodes the value; base64offset gives the three shifts', () => {
  assert.equal(m("F|base64: 'http://'")({ F: 'aHR0cDovLw==' }), true);
  assert.deepEqual(base64Offsets(Buffer.from('/bin/bash')), ['L2Jpbi9iYXNo', '9iaW4vYmFza', 'vYmluL2Jhc2']);
  const f = m("F|base64offset|contains: '/bin/bash'");
  for (const prefix of ['', 'a', 'ab', 'abc']) {
    const enc = Buffer.from(`${prefix}/bin/bash -i`).toString('base64');
    assert.equal(f({ F: `echo ${enc} | base64 -d` }), true, `prefix '${prefix}'`);
  }
  assert.equal(f({ F: Buffer.from('/bin/dash').toString('base64') }), false);
  assert.match(rejection(rule("sel:\n  F|base64offset|endswith: 'x'\ncondition: sel")), /base64offset/);
});

test('utf16le, utf16be, utf16 (with BOM) and wide encode before base64', () => {
  const le = Buffer.from('ping', 'utf16le').toString('base64');
  assert.equal(m("F|wide|base64: 'ping'")({ F: le }), true);
  assert.equal(m("F|utf16le|base64: 'ping'")({ F: le }), true);
  const be = Buffer.from('ping', 'utf16le').swap16().toString('base64');
  assert.equal(m("F|utf16be|base64: 'ping'")({ F: be }), true);
  assert.equal(m("F|utf16be|base64: 'ping'")({ F: le }), false);
  const bom = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('ping', 'utf16le')]).toString('base64');
  assert.equal(m("F|utf16|base64: 'ping'")({ F: bom }), true);
  const cmd = Buffer.from('powershell -c iex', 'utf16le').toString('base64');
  assert.equal(m("F|wide|base64offset|contains: 'iex'")({ F: cmd }), true);
  assert.match(rejection(rule("sel:\n  F|wide: 'ping'\ncondition: sel")), /followed by base64/);
});

test('fieldref compares two fields of the same event', () => {
  const f = m('A|fieldref: B');
  assert.equal(f({ A: 'x', B: 'X' }), true);
  assert.equal(f({ A: 'x', B: 'y' }), false);
  assert.equal(f({ A: 'x' }), false);
  const sw = m('A|fieldref|startswith: B');
  assert.equal(sw({ A: 'abc', B: 'ab' }), true);
  assert.equal(sw({ A: 'abc', B: 'bc' }), false);
});

test('expand resolves placeholders from configuration, otherwise the rule is rejected', () => {
  const text = rule("sel:\n  User|expand: '%admins%'\ncondition: sel");
  assert.match(rejection(text), /placeholder %admins% is not configured/);
  const f = matcher(text, { placeholders: { admins: ['root', 'alice'] } });
  assert.equal(f({ User: 'alice' }), true);
  assert.equal(f({ User: 'bob' }), false);
});

test('time-part modifiers compare a part of a timestamp', () => {
  const f = m('T|hour|gte: 22');
  assert.equal(f({ T: '2026-01-01T23:10:00Z' }), true);
  assert.equal(f({ T: '2026-01-01T21:59:59Z' }), false);
  assert.equal(m('T|month: 2')({ T: '2026-02-15 12:00:00' }), true);
  assert.equal(m('T|day|lt: 10')({ T: '2026-02-15T00:00:00Z' }), false);
  assert.equal(m('T|year: 2026')({ T: 'not a date' }), false);
});

test('keyword lists search every value of the event', () => {
  const f = matcher(rule("keywords:\n  - 'mimikatz'\n  - 'sekurlsa::'\ncondition: keywords"));
  assert.equal(f({ a: 'x', b: { c: 'Invoke-Mimikatz' } }), true);
  assert.equal(f({ a: 'sekurlsa::logonpasswords' }), true);
  assert.equal(f({ a: 'nothing' }), false);
});

test('unknown modifiers and bad combinations are rejected with the field named', () => {
  assert.match(rejection(rule("sel:\n  F|bogus: 'x'\ncondition: sel")), /F\|bogus: unknown value modifier 'bogus'/);
  assert.match(rejection(rule("sel:\n  F|contains|startswith: 'x'\ncondition: sel")), /cannot be combined/);
});
