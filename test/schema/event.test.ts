import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EVENT_TYPES, EVENT_CATEGORY } from '../../src/schema/event.ts';

test('every event type has a category', () => {
  for (const t of EVENT_TYPES) assert.ok(EVENT_CATEGORY[t], t);
});
