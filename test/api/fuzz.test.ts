// Fuzzing the REST API from its own OpenAPI document (GET /api/openapi.json) against a real embedded server
// (test/api/support.ts): for every route and method, as an admin (the admin API key; the super-admin on the
// routes only it may call) and without a credential, path parameters, query parameters and JSON bodies get wrong
// types, extreme numbers (Infinity, 1e309, -0, 2^63), lone UTF-16 surrogates, huge strings (over the body limit),
// 10,000 levels of nesting, arrays for objects and objects for strings. No answer may be a 5xx (or never come), and
// the server must still answer /healthz and an authenticated list afterwards. Every 5xx is reported with the
// request that caused it (set VIGIL_FUZZ_VERBOSE=1 to print every answer's status counts).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startFixture, type Fixture } from './support.ts';

const LIMITS = { perMinute: 10_000_000, burst: 10_000_000 }; // the fuzzer is one user: no 429s hiding answers
const CONCURRENCY = 8;
const TIMEOUT_MS = 20_000;
const BODY_LIMIT = 1024 * 1024;

const LONE = '\\ud800'; // in JSON text: a lone high surrogate once parsed
const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
const HUGE = 'x'.repeat(BODY_LIMIT + 16);

interface Operation { method: string; path: string; access: string; params: { in: string; name: string; schema: any }[]; body?: any }
interface Probe { method: string; path: string; raw?: string; contentType?: string; what: string; perProperty?: boolean }

let f: Fixture;
let ops: Operation[] = [];
let realHost: string;

before(async () => {
  f = await startFixture({ security: { rateLimits: { perUser: LIMITS, perTenant: LIMITS } } });
  realHost = f.agents[0].identity.agentId;
  const doc = await (await fetch(`${f.server.httpUrl}/api/openapi.json`)).json() as { paths: Record<string, Record<string, any>> };
  ops = Object.entries(doc.paths).flatMap(([path, byMethod]) => Object.entries(byMethod).map(([method, op]) => ({
    method: method.toUpperCase(), path, access: String(op.description ?? ''), params: op.parameters ?? [],
    body: op.requestBody?.content?.['application/json']?.schema,
  })));
});
after(async () => f?.stop());

/** Values for a query parameter (already URL-encoded where they must be; some are deliberately broken encodings). */
const QUERY_VALUES = [
  'Infinity', '-Infinity', '1e309', '-1e309', '-0', '9223372036854775808', '-9223372036854775809', 'NaN', '0', '-1', '1.5', '',
  'x', '%ED%A0%80', '%', '%00', encodeURIComponent('a'.repeat(8000)), encodeURIComponent('+275760-09-13T00:00:00.000Z'),
  encodeURIComponent('-271821-04-20T00:00:00.000Z'), '2024-02-30T00:00:00Z', encodeURIComponent('2299-12-31T23:59:59.999Z'),
  Buffer.from('[1e309,"x"]').toString('base64url'), Buffer.from(`["${LONE}"]`).toString('base64url'), Buffer.from(deep(5000)).toString('base64url'),
  Buffer.from('{"__proto__":{"x":1}}').toString('base64url'), '!!!',
];

/** Values for a path parameter. */
const PATH_VALUES = ['x', '0', '-0', 'Infinity', '1e309', '9223372036854775808', '%ED%A0%80', '%00', '..%2F..%2Fetc%2Fpasswd', '%F0%9F%98%80', 'a'.repeat(99), 'a'.repeat(101)];

/** JSON texts for one property of a body. */
const PROPERTY_VALUES = ['1e309', '-1e309', '-0', '9223372036854775808', '1.5', '-1', `"${LONE}"`, `"a${LONE}b"`, '[]', '[1,"x"]', '{}', '{"a":{"b":[]}}',
  'true', 'null', '"Infinity"', '"1e309"', '""', `"${'x'.repeat(100_000)}"`, deep(10_000), '"2024-02-30T00:00:00Z"', '"+275760-09-13T00:00:00.000Z"'];

/** A plausible JSON value for a schema (to fill the other required properties). */
function plausible(schema: any): string {
  const type = Array.isArray(schema?.type) ? schema.type[0] : schema?.type;
  if (schema?.enum) return JSON.stringify(schema.enum[0]);
  if (type === 'integer' || type === 'number') return String(schema.minimum ?? 1);
  if (type === 'boolean') return 'true';
  if (type === 'array') return '[]';
  if (type === 'object') return '{}';
  return '"x"';
}

/** Whole bodies, whatever the route. */
const BODIES: [string, string][] = [
  ['array', '[1,2]'], ['string', '"x"'], ['number', '42'], ['null', 'null'], ['empty object', '{}'], ['1e309', '1e309'],
  ['non-finite member', '{"a":1e309}'], ['lone surrogate key', `{"${LONE}":1}`], ['lone surrogate value', `{"a":"${LONE}"}`],
  ['10,000 levels', `{"a":${deep(10_000)}}`], ['10,000 levels bare', deep(10_000)], ['over the body limit', `{"a":"${HUGE}"}`],
  ['truncated JSON', '{"a":'], ['not JSON', 'not json'], ['proto poisoning', '{"__proto__":{"admin":true}}'],
];

function probes(op: Operation): Probe[] {
  const pathParams = op.params.filter((p) => p.in === 'path');
  const query = op.params.filter((p) => p.in === 'query');
  const fill = (values: Record<string, string> = {}) => op.path.replace(/\{([^}]+)\}/g, (_, name: string) => values[name] ?? (name === 'id' ? realHost : name === '*' ? 'x' : 'x'));
  const out: Probe[] = [{ method: op.method, path: fill(), what: 'plain' }];
  for (const p of pathParams) for (const v of [...PATH_VALUES, realHost]) out.push({ method: op.method, path: fill({ [p.name]: v }), what: `path ${p.name}=${v.slice(0, 20)}` });
  for (const q of query) {
    for (const v of QUERY_VALUES) out.push({ method: op.method, path: `${fill()}?${q.name}=${v}`, what: `query ${q.name}=${v.slice(0, 30)}` });
    out.push({ method: op.method, path: `${fill()}?${q.name}=1&${q.name}=2`, what: `query ${q.name} twice` });
  }
  if (op.method === 'GET' || op.method === 'HEAD') {
    out.push({ method: op.method, path: `${fill()}?unknown=1`, what: 'unknown query parameter' });
    return out;
  }
  for (const [what, raw] of BODIES) out.push({ method: op.method, path: fill(), raw, contentType: 'application/json', what: `body ${what}` });
  out.push({ method: op.method, path: fill(), raw: 'x', contentType: 'text/plain', what: 'text/plain body' });
  out.push({ method: op.method, path: fill(), raw: 'x', contentType: 'application/xml', what: 'xml body' });
  const props = Object.entries<any>(op.body?.properties ?? {});
  for (const [name] of props) {
    for (const v of PROPERTY_VALUES) {
      const members = props.map(([n, s]) => `${JSON.stringify(n)}:${n === name ? v : plausible(s)}`);
      out.push({ method: op.method, path: fill(), raw: `{${members.join(',')}}`, contentType: 'application/json', what: `body ${name}=${v.slice(0, 30)}`, perProperty: true });
    }
  }
  return out;
}

async function send(p: Probe, token: string | undefined): Promise<{ status: number; detail: string }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (p.contentType) headers['content-type'] = p.contentType;
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  try {
    const res = await fetch(`${f.server.httpUrl}${p.path}`, { method: p.method, headers, body: p.raw, signal: ctl.signal });
    if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      ctl.abort(); // the live stream stays open: its status is the answer
      return { status: res.status, detail: 'stream' };
    }
    const text = await res.text();
    return { status: res.status, detail: text.slice(0, 200) };
  } catch (err) {
    // A refusal of an over-limit body may close the connection before the request is fully sent.
    if (p.raw !== undefined && p.raw.length > BODY_LIMIT) return { status: 413, detail: `connection closed: ${(err as Error).message}` };
    return { status: 0, detail: `no answer: ${(err as Error).message}` };
  } finally {
    clearTimeout(timer);
  }
}

async function pool<T>(items: T[], n: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

test('no route answers client input with a 5xx, with a credential or without; the server stays up', { timeout: 240_000 }, async () => {
  assert.ok(ops.length > 60, `the OpenAPI document lists the routes (${ops.length})`);
  const failures: string[] = [];
  const counts = new Map<number, number>();
  const jobs: [Probe, string | undefined, string][] = [];
  for (const op of ops) {
    // The admin API key (a logout with it revokes nothing); the super-admin where only it may call.
    const admin = op.access.includes('tenants:manage') ? f.tokens.super : f.adminKey;
    const open = op.access.includes('public') || !op.path.startsWith('/api/v1/');
    for (const p of probes(op)) {
      jobs.push([p, admin, 'admin']);
      // Without a credential a protected route refuses before it reads a body: its per-property bodies add nothing.
      if (open || !p.perProperty) jobs.push([p, undefined, 'anonymous']);
    }
  }
  const started = Date.now();
  const slow = new Map<string, number>();
  await pool(jobs, CONCURRENCY, async ([p, token, who]) => {
    const t0 = Date.now();
    const r = await send(p, token);
    const key = `${p.method} ${p.path.split('?')[0].slice(0, 40)} ${who}`;
    slow.set(key, (slow.get(key) ?? 0) + Date.now() - t0);
    counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
    if (r.status >= 500 || r.status === 0) failures.push(`${p.method} ${p.path.slice(0, 120)} [${p.what}] as ${who}: ${r.status} ${r.detail}`);
  });
  if (process.env.VIGIL_FUZZ_VERBOSE) console.log({ requests: jobs.length, seconds: (Date.now() - started) / 1000, statuses: Object.fromEntries(counts), slowest: [...slow].sort((a, b) => b[1] - a[1]).slice(0, 15) });
  assert.equal((await fetch(`${f.server.httpUrl}/healthz`)).status, 200, 'the server is up');
  assert.equal((await fetch(`${f.server.httpUrl}/api/v1/hosts`, { headers: { authorization: `Bearer ${f.adminKey}` } })).status, 200, 'and still answers');
  assert.deepEqual(failures, [], `${failures.length} requests got a 5xx or no answer`);
});
