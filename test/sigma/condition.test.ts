// Condition grammar vectors (precedence, `of` forms, `_` identifiers) and rejection of obsolete syntax.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileOne, matcher, rejection, rule } from './helpers.ts';

const sels = "a:\n  A: 1\nb:\n  B: 1\nc:\n  C: 1\n";

test('not binds tighter than and, and tighter than or', () => {
  const f = matcher(rule(`${sels}condition: a or b and not c`));
  assert.equal(f({ A: 1, C: 1 }), true); // a or (b and not c)
  assert.equal(f({ B: 1, C: 1 }), false);
  assert.equal(f({ B: 1 }), true);
  const g = matcher(rule(`${sels}condition: (a or b) and not c`));
  assert.equal(g({ A: 1, C: 1 }), false);
});

test('1 of, all of, them and patterns; _-prefixed identifiers are not part of them', () => {
  const det = "sel_x:\n  X: 1\nsel_y:\n  Y: 1\n_helper:\n  H: 1\n";
  const one = matcher(rule(`${det}condition: 1 of them`));
  assert.equal(one({ H: 1 }), false);
  assert.equal(one({ Y: 1 }), true);
  const all = matcher(rule(`${det}condition: all of sel_*`));
  assert.equal(all({ X: 1 }), false);
  assert.equal(all({ X: 1, Y: 1 }), true);
  const two = matcher(rule(`${sels}condition: 2 of them`));
  assert.equal(two({ A: 1 }), false);
  assert.equal(two({ A: 1, C: 1 }), true);
  const allThem = matcher(rule(`${det}condition: all of them and not _helper`));
  assert.equal(allThem({ X: 1, Y: 1 }), true);
  assert.equal(allThem({ X: 1, Y: 1, H: 1 }), false);
});

test('a list of conditions is an OR', () => {
  const f = matcher(rule(`${sels}condition:\n  - a and b\n  - c`));
  assert.equal(f({ C: 1 }), true);
  assert.equal(f({ A: 1 }), false);
});

test('obsolete pipe aggregations, near and timeframe are rejected with file and line', () => {
  const agg = compileOne(rule(`${sels}condition: a | count() by B > 5`));
  assert.match(agg.rejected[0].reason, /obsolete aggregation/);
  assert.equal(agg.rejected[0].file, 'rule.yml');
  assert.equal(typeof agg.rejected[0].line, 'number');
  assert.match(rejection(rule(`${sels}condition: a | near b`)), /near/);
  assert.match(rejection(rule(`${sels}timeframe: 5m\ncondition: a`)), /timeframe/);
});

test('undefined identifiers, dangling operators and empty patterns are rejected', () => {
  assert.match(rejection(rule(`${sels}condition: a and zz`)), /undefined identifier 'zz'/);
  assert.match(rejection(rule(`${sels}condition: a and`)), /ends unexpectedly/);
  assert.match(rejection(rule(`${sels}condition: 1 of q*`)), /matches no detection identifier/);
});

test('a rule is never half-loaded: one bad document does not affect its neighbours', () => {
  const good = rule('sel:\n  A: 1\ncondition: sel');
  const bad = rule('sel:\n  A|bogus: 1\ncondition: sel').replace('000000000001', '000000000002');
  const r = compileOne(`${good}---\n${bad}`);
  assert.equal(r.rules.length, 1);
  assert.equal(r.rejected.length, 1);
  assert.equal(r.rejected[0].id, '00000000-0000-4000-8000-000000000002');
});

test('filters (sigma-filters-specification) exclude matches of the named rules', () => {
  const base = rule('sel:\n  A: 1\ncondition: sel', 'name: base_rule\n');
  const filter = "title: f\nlogsource:\n  product: test\nfilter:\n  rules:\n    - base_rule\n  sel:\n    User: svc\n  condition: sel\n";
  const r = compileOne(`${base}---\n${filter}`);
  assert.equal(r.rules.length, 1);
  assert.deepEqual(r.warnings, []);
  assert.equal(JSON.stringify(r.rules[0].conditions).includes('"op":"not"'), true);
});
