// The API contract on real answers: an embedded server with data (an attack chain with lineage → alerts and
// incidents, processes, events, rules, response actions, policies, users, keys, tenants, the ledger) is called on
// every route, and every JSON answer as its handler gives it (ApiOptions.onAnswer, before serialisation) is
// validated against the OpenAPI document the server serves, with every object closed (additionalProperties false
// where a schema leaves it open by omission) and date-times checked. So a property a handler answers that its schema
// does not name (undocumented and untyped in the console; a schema serialiser would drop it silently), a missing
// required one, a wrong type or a stale enum fails here. Also: every operation declares its success answer, every
// operation answering a named schema (src/api/schemas/) was seen answering 2xx, and the document the console's types
// are generated from (scripts/gen-api-types.ts) has exactly the served document's paths.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { AnswerSeen } from '../../src/api/server.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { apiDocument } from '../../scripts/gen-api-types.ts';
import { scenarioEvents, writeScenarioRules } from '../incidents/scenario.ts';
import { eventually } from '../support/vigil-process.ts';
import { call, FOREIGN_TENANT, PASSWORD, startFixture, type Fixture } from './support.ts';

type Json = { [k: string]: any };
/**
 * Routes whose response schemas their own changes add: alert sinks and deliveries (issue 21), threat-intelligence
 * lists, AI-service usage and DLP data sets (issue 22). Their answers are still checked against whatever they declare.
 */
const NOT_COVERED_HERE = [/^\/api\/v1\/alert-sinks/, /^\/api\/v1\/alerts\/\{id\}\/deliveries$/, /^\/api\/v1\/(intel|ai-usage|dlp)\//, /^\/api\/v1\/ai-usage$/];
/** Routes that answer no JSON: the event stream (hijacked) and artefact downloads (bytes). */
const NOT_JSON = new Set(['get /api/v1/stream', 'get /api/v1/ir/artifacts/{id}']);
const DOC_ID = 'openapi';

let f: Fixture;
let rulesDir: string;
let doc: Json;
const seen: AnswerSeen[] = [];

before(async () => {
  rulesDir = writeScenarioRules(mkdtempSync(join(tmpdir(), 'vigil-contract-rules-')));
  f = await startFixture({ ruleDirs: [rulesDir], response: { requireIsolationApproval: true }, onAnswer: (a) => { seen.push(a); } });
  doc = await (await fetch(`${f.server.httpUrl}/api/openapi.json`)).json() as Json;
});
after(async () => {
  await f?.stop();
  if (rulesDir) rmSync(rulesDir, { recursive: true, force: true });
});

/** `s` with every object schema that does not say whether it is open made closed (`if` conditions stay as they are). */
function closed(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(closed);
  if (!s || typeof s !== 'object') return s;
  const out: Json = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as Json).map(([name, p]) => [name, closed(p)]));
    else out[k] = k === 'if' || k === 'not' || k === 'const' || k === 'enum' ? v : closed(v);
  }
  if ((out.type === 'object' || out.properties) && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

const openApiPath = (route: string) => route.replace(/:([A-Za-z_]+)/g, '{$1}');
const mediaOf = (contentType: string | undefined) => (contentType ?? 'application/json').split(';')[0].trim();

/** The validators of the document's answers, per operation, status and media type (closed, refs into the document). */
function validators(): (a: AnswerSeen) => ValidateFunction | 'undocumented' | 'no schema' {
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv); // CommonJS: Node's default import is module.exports, whose .default TypeScript knows
  ajv.addSchema({ $id: DOC_ID, components: closed(doc.components) as Json });
  const cache = new Map<string, ValidateFunction | 'undocumented' | 'no schema'>();
  return (a) => {
    const path = openApiPath(a.route);
    const media = mediaOf(a.contentType);
    const id = `${a.method} ${path} ${a.status} ${media}`;
    if (!cache.has(id)) {
      const responses = doc.paths[path]?.[a.method.toLowerCase()]?.responses as Json | undefined;
      const answer = responses?.[String(a.status)] ?? responses?.[`${String(a.status)[0]}XX`];
      const schema = answer?.content?.[media]?.schema;
      const inDocument = JSON.parse(JSON.stringify(closed(schema ?? {})).replaceAll('"#/components/', `"${DOC_ID}#/components/`));
      cache.set(id, !responses ? 'undocumented' : !schema ? 'no schema' : ajv.compile(inDocument));
    }
    return cache.get(id)!;
  };
}

/** The scenario with what the agent adds to a process when it can: executable digests and file, container, pod. */
function enriched(events: VigilEvent[]): VigilEvent[] {
  for (const e of events.filter((x) => x.process?.entity_id === 'cx-nc' || x.process?.entity_id === 'cx-curl')) {
    e.process!.hash = { sha256: 'a'.repeat(64), sha1: 'b'.repeat(40), md5: 'c'.repeat(32) };
    e.process!.file = { size: 35_064, inode: '1234567', device: '2049', mtime: '2026-01-01T00:00:00.000Z' };
    e.container = { id: 'f'.repeat(64), runtime: 'containerd' };
    e.orchestrator = { type: 'kubernetes', namespace: 'default', resource: { type: 'pod', name: 'web-0', id: '0d7f8a52-0000-4000-8000-000000000001' } };
  }
  return events;
}

// ---- driving every route ----

const admin = (method: string, path: string, body?: unknown) => call(f, method, path, { token: f.adminKey, body });
const as = (token: string, method: string, path: string, body?: unknown) => call(f, method, path, { token, body });

async function ok(r: Promise<{ status: number; body: any }>, status = 200): Promise<any> {
  const x = await r;
  assert.equal(x.status, status, JSON.stringify(x.body).slice(0, 500));
  return x.body;
}

const RULE = (id: string, title: string) => `title: ${title}
id: ${id}
status: test
level: medium
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    Image|endswith: '/contract-tool'
  condition: sel
`;

async function driveIdentity(): Promise<void> {
  const session = await ok(call(f, 'POST', '/auth/login', { body: { email: 'analyst@default.test', password: PASSWORD } }));
  const renewed = await ok(call(f, 'POST', '/auth/refresh', { body: { refresh_token: session.refresh_token } }));
  await ok(call(f, 'POST', '/auth/logout', { token: renewed.access_token, body: { refresh_token: renewed.refresh_token } }), 204);
  await ok(as(f.tokens.admin, 'GET', '/auth/me'));
  await ok(admin('GET', '/auth/me'));
  const enrolment = await ok(as(f.tokens.viewer, 'POST', '/auth/totp/enroll'));
  await ok(as(f.tokens.viewer, 'POST', '/auth/totp/confirm', { secret: enrolment.secret, code: '000000', current_password: 'wrong' }), 401);

  const user = await ok(admin('POST', '/users', { email: 'contract@default.test', password: PASSWORD, role: 'analyst' }), 201);
  await ok(admin('GET', '/users'));
  await ok(as(f.tokens.super, 'GET', `/users?tenant=${FOREIGN_TENANT}`));
  await ok(admin('GET', `/users/${user.id}`));
  const own = await ok(call(f, 'POST', '/auth/login', { body: { email: 'contract@default.test', password: PASSWORD } }));
  await ok(as(own.access_token, 'POST', '/auth/password', { current_password: PASSWORD, new_password: `${PASSWORD} 2` }), 204);
  await ok(admin('PATCH', `/users/${user.id}`, { role: 'viewer', disabled: true }));
  await ok(admin('POST', `/users/${user.id}/unlock`), 204);
  await ok(admin('DELETE', `/users/${user.id}`), 204);

  const key = await ok(admin('POST', '/api-keys', { name: 'contract', role: 'viewer', expires_at: new Date(Date.now() + 86_400_000).toISOString() }), 201);
  await ok(admin('GET', '/api-keys'));
  await ok(admin('POST', `/api-keys/${key.id}/revoke`), 204);

  await ok(as(f.tokens.super, 'GET', '/tenants'));
  await ok(as(f.tokens.super, 'POST', '/tenants', { id: 'contract-a', name: 'Contract A', admin: { email: 'admin@contract-a.test', password: PASSWORD } }), 201);
  await ok(as(f.tokens.super, 'POST', '/tenants', { id: 'contract-b', name: 'Contract B' }), 201);
}

async function driveAgents(host: string): Promise<void> {
  await ok(admin('GET', '/hosts'));
  assert.ok((await ok(admin('GET', `/hosts/${host}`))).risk?.alerts > 0, "the host's risk, from its alerts");
  await ok(admin('GET', '/agents'));
  await ok(admin('GET', `/agents/${host}`));
  await ok(admin('PUT', '/policies/contract', { document: { sensor: { mode: 'auto' }, list: [1, 2] } }));
  await ok(admin('PUT', '/policies/contract', { document: { sensor: { mode: 'ebpf' } } }));
  await ok(admin('GET', '/policies'));
  await ok(admin('GET', '/policies/contract'));
  await ok(admin('GET', '/policies/contract?version=1'));
  await ok(admin('GET', '/policies/contract/acks'));
  const token = await ok(admin('POST', '/enrollment-tokens', { ttl_seconds: 600, max_uses: null }), 201);
  await ok(admin('POST', '/enrollment-tokens', {}), 201);
  await ok(admin('GET', '/enrollment-tokens'));
  await ok(admin('POST', `/enrollment-tokens/${token.id}/revoke`), 204);
  await ok(admin('POST', '/stream/ticket'));
}

async function driveProcessesAndEvents(host: string, entity: string): Promise<void> {
  const live = await ok(admin('GET', `/hosts/${host}/process-tree`));
  assert.ok(live.count > 0, 'a live process tree');
  await ok(admin('GET', `/hosts/${host}/process-tree?at=${encodeURIComponent(new Date().toISOString())}`));
  const process = await ok(admin('GET', `/hosts/${host}/processes/${entity}`));
  assert.ok(process.ancestors.length > 0 && process.alerts.length > 0, 'the process has ancestors and alerts');
  assert.ok(process.process.hash?.sha1 && process.process.container?.id && process.exec_chain[0].file, 'and its executable and container facts');
  await ok(admin('GET', `/hosts/${host}/processes/cx-bash`));
  await ok(admin('GET', '/events?limit=50'));
  await ok(admin('GET', `/events?process_entity_id=${entity}`));
  await ok(as(f.tokens.analyst, 'POST', '/hunt', { sql: 'SELECT event_type, count() AS n FROM telemetry_events GROUP BY event_type', limit: 100 }));
}

async function driveResponse(host: string): Promise<string> {
  const isolate = await ok(admin('POST', `/hosts/${host}/isolate`, { reason: 'contract test' }), 202);
  assert.equal(isolate.status, 'awaiting_approval');
  await ok(as(f.tokens.responder, 'POST', `/ir/actions/${isolate.id}/approve`));
  await ok(admin('POST', `/hosts/${host}/release`, { reason: 'contract test' }), 202);
  await ok(admin('POST', `/hosts/${host}/kill-process`, { pid: 1004, entity_id: 'cx-nc', reason: 'contract test' }), 202);
  await ok(admin('POST', `/hosts/${host}/collect`, { paths: ['/tmp/x'], reason: 'contract test', expires_in_s: 600 }), 202);
  await ok(admin('POST', `/hosts/${host}/list-processes`), 202);
  await ok(admin('POST', `/hosts/${host}/get-file`, { path: '/etc/hostname', reason: 'contract test' }), 202);
  await ok(admin('GET', '/ir/actions'));
  await ok(admin('GET', `/ir/actions/${isolate.id}`));
  return isolate.id;
}

async function driveAlerts(host: string, lineageAlert: any): Promise<void> {
  await ok(admin('GET', '/alerts'));
  for (const by of ['rule', 'host', 'process']) await ok(admin('GET', `/alerts?group_by=${by}`));
  await ok(admin('GET', `/alerts/${lineageAlert.id}`));
  const others = (await ok(admin('GET', `/alerts?host=${host}&status=open&limit=1000`))).alerts.filter((a: any) => a.id !== lineageAlert.id);
  const target = others[0].id;
  await ok(admin('POST', `/alerts/${target}/acknowledge`, {}));
  await ok(admin('POST', `/alerts/${target}/assign`, { assignee: 'analyst@default.test' }));
  await ok(admin('POST', `/alerts/${target}/comment`, { text: 'looked at it' }));
  await ok(admin('POST', `/alerts/${target}/close`, { disposition: 'benign', reason: 'contract test' }));
  await ok(admin('POST', '/alerts/bulk', { filter: { host, severity: ['low'] }, action: 'acknowledge' }));
  await ok(admin('POST', `/alerts/${target}/suppress`), 400);

  const fromAlert = await ok(admin('POST', `/alerts/${lineageAlert.id}/exception`, { fields: ['process.executable'], reason: 'contract test', expires_at: new Date(Date.now() + 3_600_000).toISOString() }), 201);
  const made = await ok(admin('POST', '/exceptions', {
    rule_id: lineageAlert.rule.id, conditions: [{ field: 'process.command_line', op: 'contains', value: 'contract' }], scope: { host_ids: [host] }, reason: 'contract test',
  }), 201);
  await ok(admin('GET', '/exceptions'));
  await ok(admin('GET', `/exceptions/${made.id}`));
  await ok(admin('PATCH', `/exceptions/${made.id}`, { reason: 'changed', expires_at: null }));
  await ok(admin('DELETE', `/exceptions/${made.id}`), 204);
  await ok(admin('DELETE', `/exceptions/${fromAlert.id}`), 204);
}

async function driveIncidents(actionId: string): Promise<void> {
  const list = await ok(admin('GET', '/incidents'));
  const attack = list.incidents.find((i: any) => i.alert_count === 3);
  assert.ok(attack, JSON.stringify(list));
  const detail = await ok(admin('GET', `/incidents/${attack.id}`));
  await ok(admin('GET', `/alerts/${detail.alert_ids[0]}/incident`));
  const analyst = (await ok(admin('GET', '/users'))).users.find((u: any) => u.email === 'analyst@default.test');
  await ok(admin('PATCH', `/incidents/${attack.id}`, { assignee: analyst.id, severity: 'critical', title: 'Contract incident', status: 'investigating' }));
  await ok(admin('POST', `/incidents/${attack.id}/notes`, { text: 'a note' }), 201);
  await ok(admin('POST', `/incidents/${attack.id}/actions`, { add: [actionId] }));
  const moved = await ok(admin('POST', `/incidents/${attack.id}/alerts`, { remove: [detail.alert_ids[0]] }));
  assert.ok(moved.split_into, 'the removed alert went to a new incident');
  await ok(admin('GET', `/incidents/${attack.id}`));
  await ok(admin('POST', `/incidents/${attack.id}/close`, { disposition: 'true_positive', reason: 'contract test' }));
  await ok(admin('POST', `/incidents/${attack.id}/reopen`, { reason: 'again' }));
}

async function driveRules(): Promise<void> {
  const list = await ok(admin('GET', '/rules'));
  await ok(admin('GET', `/rules/${list.rules[0].id}`));
  const id = 'c0a7c7ac-0000-4000-8000-000000000001';
  await ok(admin('POST', '/rules', { yaml: RULE(id, 'Contract rule') }), 201);
  await ok(admin('PUT', `/rules/${id}`, { yaml: RULE(id, 'Contract rule, changed') }));
  await ok(admin('POST', `/rules/${id}/disable`));
  await ok(admin('POST', `/rules/${id}/enable`));
  await ok(admin('GET', `/rules/${id}`));
  await ok(admin('POST', '/rules/test', { yaml: RULE('c0a7c7ac-0000-4000-8000-000000000002', 'Contract dry run').replace('/contract-tool', '/nc'), hours: 1 }));
  await ok(admin('DELETE', `/rules/${id}`));
}

async function driveLedgerAndStats(): Promise<void> {
  await ok(admin('GET', '/ledger/checkpoint'));
  const cp = await ok(admin('POST', '/ledger/checkpoint'));
  await ok(admin('GET', '/ledger/entries?limit=20'));
  await ok(admin('GET', '/ledger/entries?limit=20&tenant=_anonymous'));
  await ok(admin('GET', '/ledger/proof/inclusion?index=0'));
  await ok(admin('GET', `/ledger/proof/consistency?from=1&to=${cp.size}`));
  await ok(admin('POST', '/ledger/verify', {}));
  await ok(admin('GET', '/stats/overview'));
  await ok(admin('GET', '/stats/overview?range=24h'));
  await ok(admin('GET', '/stats/mitre'));
  await ok(admin('GET', '/stats/mitre?status=all'));
}

test('every answer of every route matches the OpenAPI document, objects closed', { timeout: 180_000 }, async () => {
  const agent = f.agents[0];
  const host = agent.identity.agentId;
  await agent.send(enriched(scenarioEvents(() => agent.syntheticEvents(1)[0], Date.now() - 60_000, 'cx')));
  const lineageAlert = await eventually(async () => {
    const r = await admin('GET', '/alerts?process_entity_id=cx-nc');
    const a = r.body.alerts?.[0];
    return a?.process && a.ancestors?.length > 0 && (await admin('GET', '/incidents')).body.total >= 2 ? a : undefined;
  }, 30_000, 'the netcat alert with its lineage, and the incidents');

  await driveIdentity();
  await driveAgents(host);
  await driveProcessesAndEvents(host, 'cx-nc');
  const actionId = await driveResponse(host);
  await driveAlerts(host, lineageAlert);
  await driveIncidents(actionId);
  await driveRules();
  await driveLedgerAndStats();
  await ok(as(f.tokens.foreign, 'POST', `/agents/${f.agents[1].identity.agentId}/revoke`));
  // Problems: not found, forbidden, unauthenticated, invalid, conflict.
  await ok(admin('GET', '/hosts/no-such-host'), 404);
  await ok(as(f.tokens.viewer, 'GET', '/users'), 403);
  await ok(call(f, 'GET', '/hosts'), 401);
  await ok(admin('GET', '/events?limit=0'), 400);
  await ok(as(f.tokens.super, 'POST', '/tenants', { id: 'contract-b', name: 'again' }), 409);

  const validate = validators();
  const wrong: string[] = [];
  const answered = new Set<string>();
  for (const a of seen) {
    if (!a.route.startsWith('/api/v1/')) continue;
    const v = validate(a);
    const what = `${a.method} ${openApiPath(a.route)} ${a.status} ${mediaOf(a.contentType)}`;
    if (typeof v === 'string') {
      if (!NOT_COVERED_HERE.some((r) => r.test(openApiPath(a.route)))) wrong.push(`${what}: ${v} in the document`);
      continue;
    }
    if (a.status < 300) answered.add(`${a.method.toLowerCase()} ${openApiPath(a.route)}`);
    if (!v(JSON.parse(JSON.stringify(a.payload)))) {
      wrong.push(`${what}: ${(v.errors ?? []).slice(0, 5).map((e) => `${e.instancePath || '/'} ${e.message}${e.params && 'additionalProperty' in e.params ? ` '${e.params.additionalProperty}'` : ''}`).join('; ')}`);
    }
  }
  // The check itself: a planted property, and a missing one, in a real answer fail it.
  const hostAnswer = seen.find((a) => a.route === '/api/v1/hosts/:id' && a.status === 200)!;
  const hostCheck = validate(hostAnswer) as ValidateFunction;
  const real = JSON.parse(JSON.stringify(hostAnswer.payload));
  assert.equal(hostCheck(real), true);
  assert.equal(hostCheck({ ...real, planted: 1 }), false, 'a property the schema does not name fails');
  assert.equal(hostCheck({ ...real, certificate: { ...real.certificate, planted: 1 } }), false, 'also nested');
  const { hostname: _dropped, ...missing } = real;
  assert.equal(hostCheck(missing), false, 'a missing required property fails');
  assert.deepEqual([...new Set(wrong)], [], 'answers that differ from their schema (a property named here and missing from the schema is dropped by serialisation)');

  // Every operation declares its success answer; those answering a named schema (src/api/schemas/) are driven above.
  const unseen: string[] = [];
  const undeclared: string[] = [];
  for (const [path, methods] of Object.entries(doc.paths as Json)) {
    if (!path.startsWith('/api/v1/') || NOT_COVERED_HERE.some((r) => r.test(path))) continue;
    for (const [method, op] of Object.entries(methods as Json)) {
      const success = Object.entries(op.responses ?? {} as Json).filter(([s, r]) => s.startsWith('2') && (r as Json).description !== 'Default Response');
      if (success.length === 0 && !op.responses?.['4XX']) undeclared.push(`${method} ${path}`); // answers({}): refuses always
      const named = success.some(([, r]) => typeof (r as Json).content?.['application/json']?.schema?.$ref === 'string');
      if (named && !NOT_JSON.has(`${method} ${path}`) && !answered.has(`${method} ${path}`)) unseen.push(`${method} ${path}`);
    }
  }
  // The console's types are generated from the document buildApi makes without stores: it must have this server's routes.
  assert.deepEqual(Object.keys((await apiDocument()).paths as Json).sort(), Object.keys(doc.paths).sort(), 'the generator sees the routes the server has');
  assert.deepEqual(undeclared, [], 'operations without a declared success answer (schema.response: answers({...}) of src/api/schemas/)');
  assert.deepEqual(unseen, [], 'operations answering a named schema that this test never saw answer 2xx: add a call above');
});
