// trimOldest: a Map or Set over its bound loses its oldest entries, a tenth of the bound at once, and keeps the
// rest in insertion order; at or under the bound nothing happens.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trimOldest } from '../../src/util/trim-oldest.ts';

test('at or under its bound a collection is left alone', () => {
  const s = new Set([1, 2, 3]);
  assert.equal(trimOldest(s, 3), 0);
  assert.deepEqual([...s], [1, 2, 3]);
});

test('a small bound is kept exactly: the oldest entries go first', () => {
  const m = new Map([['a', 1], ['b', 2], ['c', 3], ['d', 4], ['e', 5]]);
  assert.equal(trimOldest(m, 3), 2);
  assert.deepEqual([...m.keys()], ['c', 'd', 'e']);
});

test('past a large bound the oldest tenth goes at once, and the newest stay in order', () => {
  const s = new Set<number>();
  let trimmed = 0;
  for (let i = 0; i < 250_000; i++) {
    s.add(i);
    trimmed += trimOldest(s, 100_000);
    assert.ok(s.size <= 100_000);
  }
  assert.equal(trimmed + s.size, 250_000, 'every entry is either kept or counted as trimmed');
  assert.ok(s.size > 90_000, `${s.size} kept`);
  const kept = [...s];
  assert.deepEqual([kept[0], kept.at(-1)], [250_000 - kept.length, 249_999], 'exactly the most recent entries');
  s.delete(249_000);
  s.add(7);
  trimOldest(s, 100_000);
  assert.equal([...s].at(-1), 7, 'a re-added entry is the newest');
});
