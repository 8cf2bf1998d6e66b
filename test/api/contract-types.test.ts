// The console's API types cannot drift from the routes: web/src/api/generated.ts must be exactly what
// `npm run gen:api-types` (scripts/gen-api-types.ts) makes of the OpenAPI document of the current routes, so a
// route or schema change committed without regenerating fails here (and a console that no longer fits the new
// types fails `npm run typecheck:web`). Also the JSON Schema → TypeScript mapping on the constructs it covers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { apiDocument, GENERATED_PATH, tsType, typesModule } from '../../scripts/gen-api-types.ts';

test('web/src/api/generated.ts is what npm run gen:api-types makes of the current routes', async () => {
  const expected = typesModule(await apiDocument()).split('\n');
  const committed = readFileSync(GENERATED_PATH, 'utf8').split('\n');
  const at = expected.findIndex((line, i) => committed[i] !== line);
  const where = at < 0 ? committed.length === expected.length ? -1 : expected.length : at;
  assert.equal(where, -1, `web/src/api/generated.ts is stale from line ${where + 1} (committed: ${JSON.stringify(committed[where])}, `
    + `now: ${JSON.stringify(expected[where])}): run \`npm run gen:api-types\` and commit it, then fix what npm run typecheck:web finds`);
});

test('JSON Schema to TypeScript: refs, nullables, enums, closed and open objects, unions', () => {
  assert.equal(tsType({ $ref: '#/components/schemas/Host' }), 'Host');
  assert.equal(tsType({ type: ['string', 'null'] }), 'string | null');
  assert.equal(tsType({ type: ['string', 'null'], enum: ['a', 'b', null] }), '"a" | "b" | null');
  assert.equal(tsType({ type: 'array', items: { anyOf: [{ type: 'integer' }, { type: 'null' }] } }), '(number | null)[]');
  assert.equal(tsType({ type: 'object', additionalProperties: false, required: ['a'], properties: { a: { type: 'string' }, 'b-c': { type: 'boolean' } } }),
    '{\n  a: string;\n  "b-c"?: boolean;\n}');
  assert.equal(tsType({ type: 'object', additionalProperties: { type: 'integer' } }), '{\n  [key: string]: number;\n}');
  assert.equal(tsType({ type: 'object', properties: { a: { const: 'x' } } }), '{\n  a?: "x";\n  [key: string]: unknown;\n}');
  assert.equal(tsType({ if: { required: ['g'] }, then: { $ref: '#/components/schemas/A' }, else: { $ref: '#/components/schemas/B' } }), 'A | B');
  assert.equal(tsType({}), 'unknown');
});
