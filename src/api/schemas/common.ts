// Building blocks of the API's response schemas (JSON Schema as Fastify serialises with and @fastify/swagger puts
// into /api/openapi.json, from which web/src/api/generated.ts is generated). Objects are closed
// (`additionalProperties: false`) unless a schema says otherwise: Fastify's serialiser drops what a schema does not
// name, so every property an answer carries must be named here (test/api/contract.test.ts checks real answers).
// The RFC 9457 problem every error answers with, and `answers()`, a route's response map, live here too.

/** A JSON Schema as Fastify and @fastify/swagger take it. */
export type Schema = { [k: string]: unknown };

/** A named (shared) schema: registered once with Fastify, a component in the OpenAPI document, a type of the console. */
export interface NamedSchema extends Schema { $id: string; description: string }

export const STRING = { type: 'string' } as const;
export const INTEGER = { type: 'integer' } as const;
export const NUMBER = { type: 'number' } as const;
export const BOOLEAN = { type: 'boolean' } as const;
/** ISO 8601 date-time in UTC (`Z`). */
export const TIME = { type: 'string', format: 'date-time' } as const;
/** Any JSON value (what a rule's or a command's free-form parameters or results hold). */
export const ANY_JSON = {} as const;
/** A JSON object with any members (documents the API stores as given: policies, command parameters, ledger details). */
export const OPEN_OBJECT = { type: 'object', additionalProperties: true } as const;

/** A reference to a named schema. */
export const ref = (id: string): Schema => ({ $ref: `${id}#` });

/** `s` or null. */
export function nullable(s: Schema): Schema {
  if (typeof s.type === 'string') return { ...s, type: [s.type, 'null'], ...(Array.isArray(s.enum) ? { enum: [...s.enum, null] } : {}) };
  return { anyOf: [s, { type: 'null' }] };
}

export const arrayOf = (items: Schema): Schema => ({ type: 'array', items });
export const enumOf = (values: readonly string[]): Schema => ({ type: 'string', enum: [...values] });
/** An object whose keys are free (names, ids) and whose values are `values`. */
export const recordOf = (values: Schema): Schema => ({ type: 'object', additionalProperties: values });

/** A closed object: `required` always present (possibly null), `optional` present only when they apply. */
export function object(required: Record<string, Schema>, optional: Record<string, Schema> = {}): Schema {
  return { type: 'object', additionalProperties: false, required: Object.keys(required), properties: { ...required, ...optional } };
}

export const named = (id: string, description: string, schema: Schema): NamedSchema => ({ $id: id, description, ...schema });

/** A page of a cursor-paged list: the items under `field` and `next` (null on the last page). */
export const page = (field: string, item: Schema, extra: Record<string, Schema> = {}): Schema =>
  object({ [field]: arrayOf(item), next: nullable(STRING), ...extra });

export const Problem = named('Problem', 'An RFC 9457 problem: every error answer (application/problem+json).', object(
  { type: STRING, title: STRING, status: INTEGER },
  {
    detail: STRING,
    code: { ...STRING, description: 'machine-readable reason (invalid_request, not_found, forbidden, rate_limited, …)' },
    request_id: { ...STRING, description: 'server faults (5xx): the request id the server log holds' },
    errors: { ...arrayOf(object({ id: nullable(STRING), line: nullable(INTEGER), message: STRING })), description: 'rule uploads: what did not compile' },
  },
));

const problemAnswer = { description: 'An RFC 9457 problem', content: { 'application/problem+json': { schema: ref('Problem') } } };
const NO_CONTENT = { type: 'null', description: 'No Content' };

/**
 * A route's `schema.response`: each success status with its schema (null: no body), and a problem for every 4xx and
 * 5xx. Success schemas are usually refs of named schemas (`ref('Host')`).
 */
export function answers(success: Record<number, Schema | null>): Schema {
  const out: Schema = {};
  for (const [status, s] of Object.entries(success)) out[status] = s === null ? NO_CONTENT : s;
  return { ...out, '4xx': problemAnswer, '5xx': problemAnswer };
}

/** `list` checked at compile time to hold every member of the union T (for enums the domain types define as unions). */
export const every = <T extends string>() => <const L extends readonly T[]>(list: L & ([T] extends [L[number]] ? unknown : never)): L => list;
