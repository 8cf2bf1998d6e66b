// Generates the console's API types (web/src/api/generated.ts) from the API's OpenAPI document, the one the server
// serves at /api/openapi.json, built from the route schemas of whatever routes src/api/server.ts registers. Run
// `npm run gen:api-types` after changing a route or a schema; test/api/contract-types.test.ts fails while the
// committed file differs from what this produces.
//
// The document is built without stores: buildApi gets options whose every store is a stand-in that refuses to
// be used (routes only register here, none is called). The types: each component schema a named type (objects
// as interfaces), and `ApiPaths`, per path below /api/v1 and method, its path and query parameters, JSON body
// and answers by status. JSON Schema → TypeScript covers what the route schemas use: $ref, type (and type
// lists), const, enum, properties/required/additionalProperties, items, anyOf/oneOf, allOf, if/then/else.
// (openapi-typescript needs the `typescript` 5 compiler API; this repository compiles with TypeScript 7.)

import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { buildApi, type ApiOptions } from '../src/api/server.ts';

type Json = { [k: string]: unknown };
const API_PREFIX = '/api/v1';
/** How src/api/schemas/common.ts describes an answer without a body (a route without response schemas has none). */
const NO_CONTENT = 'No Content';
export const GENERATED_PATH = fileURLToPath(new URL('../web/src/api/generated.ts', import.meta.url));

/** A stand-in for a store or service: registering routes may hold it; calling it fails loudly. */
function standIn(name: string): unknown {
  return new Proxy({}, {
    get: (_t, key) => (key === 'then' || typeof key === 'symbol' ? undefined : () => { throw new Error(`the document builder has no ${name} (${String(key)} called)`); }),
  });
}

/** The OpenAPI document of every route buildApi registers when every optional store is present. */
export async function apiDocument(): Promise<Json> {
  const given: Partial<ApiOptions> = { log: pino({ level: 'silent' }), hunt: {}, defaultTenant: 'default', onAnswer: undefined };
  const options = new Proxy(given, { get: (t, key: string) => (key in t ? t[key as keyof ApiOptions] : standIn(key)) }) as ApiOptions;
  const app = buildApi(options);
  try {
    await app.ready();
    return app.swagger() as unknown as Json;
  } finally {
    await app.close();
  }
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (k: string) => (IDENTIFIER.test(k) ? k : JSON.stringify(k));
const typeName = (component: string) => component.replace(/[^A-Za-z0-9_$]/g, '_');
const indent = (text: string, by: string) => text.split('\n').join(`\n${by}`);

function comment(description: unknown, pad: string): string {
  return typeof description === 'string' && description !== '' ? `${pad}/** ${description.replace(/\*\//g, '* /')} */\n` : '';
}

/** The TypeScript type of JSON Schema `s`. */
export function tsType(s: unknown): string {
  if (s === true || s === undefined) return 'unknown';
  if (s === false) return 'never';
  const schema = s as Json;
  if (typeof schema.$ref === 'string') return typeName(schema.$ref.replace(/^#\/components\/schemas\//, ''));
  if ('const' in schema) return JSON.stringify(schema.const);
  if (Array.isArray(schema.enum)) return schema.enum.map((v) => JSON.stringify(v)).join(' | ');
  for (const combinator of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(schema[combinator])) return union((schema[combinator] as unknown[]).map(tsType));
  }
  if (Array.isArray(schema.allOf)) return schema.allOf.map((x) => wrap(tsType(x))).join(' & ');
  if (schema.if !== undefined && schema.then !== undefined && schema.else !== undefined) return union([tsType(schema.then), tsType(schema.else)]);
  if (Array.isArray(schema.type)) return union(schema.type.map((t) => tsType({ ...schema, type: t })));
  switch (schema.type) {
    case 'string': return 'string';
    case 'integer': case 'number': return 'number';
    case 'boolean': return 'boolean';
    case 'null': return 'null';
    case 'array': return `${wrap(tsType(schema.items))}[]`;
    case 'object': return objectType(schema);
    default: return schema.properties ? objectType(schema) : 'unknown';
  }
}

const wrap = (t: string) => (/^[A-Za-z0-9_$"'[\]]+$/.test(t) || t.startsWith('{') ? t : `(${t})`);
const union = (types: string[]) => [...new Set(types)].join(' | ');

function objectType(schema: Json): string {
  const properties = (schema.properties ?? {}) as Record<string, Json>;
  const required = new Set((schema.required ?? []) as string[]);
  const lines = Object.entries(properties).map(([name, p]) =>
    `${comment(p.description, '  ')}  ${key(name)}${required.has(name) ? '' : '?'}: ${indent(tsType(p), '  ')};`);
  const extra = schema.additionalProperties;
  if (extra !== false) lines.push(`  [key: string]: ${lines.length > 0 || extra === undefined || extra === true ? 'unknown' : indent(tsType(extra), '  ')};`);
  return lines.length ? `{\n${lines.join('\n')}\n}` : '{}';
}

function namedType(name: string, schema: Json): string {
  const t = tsType(schema);
  const head = comment(schema.description, '');
  const plainObject = schema.type === 'object' && !['anyOf', 'oneOf', 'allOf', 'if', '$ref', 'const', 'enum'].some((k) => k in schema);
  return plainObject ? `${head}export interface ${typeName(name)} ${t}\n` : `${head}export type ${typeName(name)} = ${t};\n`;
}

interface Parameter { in: string; name: string; required?: boolean; schema?: Json; description?: string }

/** One operation: path and query parameters, the JSON body, and each answer's JSON (or `unknown` for other media). */
function operationType(op: Json): string {
  const params = (op.parameters ?? []) as Parameter[];
  const group = (where: string) => {
    const ps = params.filter((p) => p.in === where);
    return ps.length ? `{ ${ps.map((p) => `${key(p.name)}${p.required ? '' : '?'}: ${tsType(p.schema)}`).join('; ')} }` : 'never';
  };
  const bodySchema = ((op.requestBody as Json | undefined)?.content as Record<string, Json> | undefined)?.['application/json']?.schema;
  const answers = Object.entries((op.responses ?? {}) as Record<string, Json>).map(([status, r]) => {
    const content = (r.content ?? {}) as Record<string, Json>;
    const media = content['application/json'] ?? content['application/problem+json'];
    const t = media ? tsType(media.schema) : r.description === NO_CONTENT ? 'null' : 'unknown';
    return `    ${key(status)}: ${indent(t, '    ')};`;
  });
  return `{\n  path: ${group('path')};\n  query: ${group('query')};\n  body: ${bodySchema ? indent(tsType(bodySchema), '  ') : 'never'};\n  answers: {\n${answers.join('\n')}\n  };\n}`;
}

const HEADER = `// Generated by scripts/gen-api-types.ts from the API's OpenAPI document (GET /api/openapi.json): do not edit.
// Regenerate with \`npm run gen:api-types\` after changing a route or a schema (src/api/schemas/); the console's names
// for these types are in types.ts.
`;

/** The generated module's text for an OpenAPI document. */
export function typesModule(doc: Json): string {
  const components = ((doc.components as Json | undefined)?.schemas ?? {}) as Record<string, Json>;
  const out = [HEADER];
  for (const [name, schema] of Object.entries(components)) out.push(namedType(name, schema));
  const paths = Object.entries((doc.paths ?? {}) as Record<string, Record<string, Json>>).filter(([p]) => p.startsWith(`${API_PREFIX}/`));
  const entries = paths.map(([path, methods]) => {
    const ops = Object.entries(methods).map(([method, op]) => `${comment(op.summary ?? op.description, '    ')}    ${method}: ${indent(operationType(op), '    ')};`);
    return `  ${JSON.stringify(path.slice(API_PREFIX.length))}: {\n${ops.join('\n')}\n  };`;
  });
  out.push(`/** Every operation below ${API_PREFIX}: per path and method, its parameters, JSON body and answers by status. */\nexport interface ApiPaths {\n${entries.join('\n')}\n}\n`);
  return out.join('\n');
}

if (import.meta.main) {
  writeFileSync(GENERATED_PATH, typesModule(await apiDocument()));
  console.log(`wrote ${GENERATED_PATH}`);
}
