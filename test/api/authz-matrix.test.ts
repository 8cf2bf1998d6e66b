// The authorisation matrix, against a real embedded server: for every route under /api/v1, the expected status
// for each tenant role, the super-admin (platform tenant), an admin of another tenant ('foreign': another
// tenant's objects are 404, never 403) and no credential (401). The matrix is data; it is cross-checked against
// the OpenAPI document, so a route without a row fails this test (alerts, rules and response actions included). Then the credential refusals: expired,
// tampered, revoked and wrong-type tokens, and revoked API keys.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AccessTokens } from '../../src/identity/access-token.ts';
import { loadOrCreateAccessTokenKey } from '../../src/stores/identity/open.ts';
import { alertFacts } from '../../src/incidents/grouping.ts';
import { call, drained, login, PASSWORD, ROLES, startFixture, type Fixture } from './support.ts';

let f: Fixture;
let n = 0;
const unique = (p: string) => `${p}-${Date.now().toString(36)}-${n++}`;

/** Makes a fresh object of the default tenant for a state-changing cell; returns its id. */
type Target = (f: Fixture) => Promise<string>;
const freshUser: Target = async (fx) => (await call(fx, 'POST', '/users', { token: fx.adminKey, body: { email: `${unique('u')}@default.test`, password: PASSWORD, role: 'viewer' } })).body.id;
const freshKey: Target = async (fx) => (await call(fx, 'POST', '/api-keys', { token: fx.adminKey, body: { name: unique('k'), role: 'viewer' } })).body.id;
const freshToken: Target = async (fx) => (await call(fx, 'POST', '/enrollment-tokens', { token: fx.adminKey, body: {} })).body.id;
const ownHost: Target = async (fx) => fx.agents[0].identity.agentId;
/** A process of the own host, stored: `<host>/processes/<entity id>`. */
const ownProcess: Target = async (fx) => {
  const [e] = fx.agents[0].syntheticEvents(1);
  await fx.agents[0].send([e]);
  const id = `${fx.agents[0].identity.agentId}/processes/${e.process!.entity_id}`;
  for (let i = 0; i < 100 && (await call(fx, 'GET', `/hosts/${id}`, { token: fx.adminKey })).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  return id;
};
const someUser: Target = async (fx) => (await call(fx, 'GET', '/users', { token: fx.adminKey })).body.users[0].id;
const ownEntry: Target = async (fx) => String((await call(fx, 'GET', '/ledger/entries?limit=1', { token: fx.adminKey })).body.entries[0].index);
const ownAlert: Target = async () => OWN_ALERT_ID;
const BUILTIN_RULE = '5b1c7e2a-0d4f-4a6b-9c3e-7a1d00000001';
/** A rule that matches nothing, with a fresh id (rules are platform-wide: each cell gets its own). */
const ruleText = (id: string = crypto.randomUUID()) => ({ yaml: `title: Matrix ${id}\nid: ${id}\nlevel: low\nlogsource:\n  product: linux\n  category: process_creation\ndetection:\n  sel:\n    Image|endswith: '/no-such-binary-${id}'\n  condition: sel\n` });
const freshRule: Target = async (fx) => (await call(fx, 'POST', '/rules', { token: fx.adminKey, body: ruleText() })).body.ids[0];
const freshAction: Target = async (fx) => (await call(fx, 'POST', `/hosts/${fx.agents[0].identity.agentId}/list-processes`, { token: fx.adminKey, body: {} })).body.id;
const OWN_ALERT_ID = 'a'.repeat(32);
const datasetBody = () => ({ name: unique('ds'), columns: [{ name: 'card', type: 'card' }], csv: 'card\n4539578763621486\n' });
const freshDataset: Target = async (fx) => (await call(fx, 'POST', '/dlp/datasets', { token: fx.adminKey, body: datasetBody() })).body.id;
/** A fresh incident of the default tenant (grouped from a fresh alert's facts); `closed` closes it first. */
const incidentFacts = (id: string) => alertFacts({ id, tenant_id: 'default', host_id: 'matrix-host', rule: { id: BUILTIN_RULE, title: 'Netcat Reverse Shell', level: 'high', references: [], type: 'single' },
  mitre: [], events: [], event_ids: [id], first_seen: new Date().toISOString(), last_seen: new Date().toISOString() });
const freshIncident: Target = async (fx) => (await fx.server.detection.incidents.assign([incidentFacts(unique('matrix-alert'))]))[0].incident_id;
const closedIncident: Target = async (fx) => {
  const id = await freshIncident(fx);
  await fx.server.detection.incidents.closeIncident('default', id, { disposition: 'benign', reason: 'matrix', actor: 'matrix' }, async () => {});
  return id;
};
const groupedAlert: Target = async (fx) => { await fx.server.detection.incidents.assign([incidentFacts(OWN_ALERT_ID)]); return OWN_ALERT_ID; };
const freshException: Target = async (fx) => (await call(fx, 'POST', '/exceptions', { token: fx.adminKey, body: {
  rule_id: BUILTIN_RULE, conditions: [{ field: 'process.executable', op: 'equals', value: `/matrix/${unique('x')}` }], reason: 'matrix' } })).body.id;
const freshSink: Target = async (fx) => (await call(fx, 'POST', '/alert-sinks', { token: fx.adminKey, body: { name: unique('s'), url: 'https://203.0.113.10/hook' } })).body.id;
/** One sink for the cells that leave it in place (a tenant has at most 20), and a stdout one whose test is written at once. */
const onceEach = (make: Target): Target => { let id: Promise<string> | undefined; return (fx) => (id ??= make(fx)); };
const keptSink = onceEach(freshSink);
const freshIntelList: Target = async (fx) => (await call(fx, 'POST', '/intel/lists', { token: fx.adminKey, body: { name: unique('intel'), format: 'csv', content: '198.51.100.1\n' } })).body.id;
const keptStdoutSink = onceEach(async (fx) => (await call(fx, 'POST', '/alert-sinks', { token: fx.adminKey, body: { name: unique('s'), type: 'stdout', format: 'text' } })).body.id);

type Cell = 'viewer' | 'analyst' | 'responder' | 'admin' | 'super' | 'foreign';
interface Row {
  method: string;
  route: string;
  /** The concrete path; `{id}` is replaced by the target's id. */
  path?: string;
  target?: Target;
  /** The body, or a function of the target's id that makes it. */
  body?: ((id: string) => unknown) | unknown;
  /** Status when allowed. */
  ok: number;
  /** Tenant roles allowed (others get 403). */
  roles: readonly string[] | 'all';
  super: number;
  foreign: number;
  /** Public routes answer the same to everyone, and no credential is not 401. */
  public?: true;
}

const ALL = 'all';
const ADMIN = ['admin'];
const HUNTERS = ['analyst', 'responder', 'admin'];
const TRIAGERS = HUNTERS;
const AUTHORS = ['analyst', 'admin'];
const RESPONDERS = ['responder', 'admin'];

const MATRIX: Row[] = [
  { method: 'POST', route: '/auth/login', body: { email: 'nobody@default.test', password: 'wrong password!' }, ok: 401, roles: ALL, super: 401, foreign: 401, public: true },
  { method: 'POST', route: '/auth/refresh', body: { refresh_token: 'vrt_not-a-token' }, ok: 401, roles: ALL, super: 401, foreign: 401, public: true },
  { method: 'GET', route: '/auth/me', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'POST', route: '/auth/totp/enroll', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'POST', route: '/auth/totp/confirm', body: { secret: 'AAAAAAAAAAAAAAAA', code: '000000' }, ok: 401, roles: ALL, super: 401, foreign: 401 },
  { method: 'POST', route: '/auth/password', body: { current_password: 'not the password', new_password: 'another long password' }, ok: 401, roles: ALL, super: 401, foreign: 401 },
  { method: 'GET', route: '/users', ok: 200, roles: ADMIN, super: 200, foreign: 200 },
  { method: 'POST', route: '/users', body: () => ({ email: `${unique('n')}@x.test`, password: PASSWORD, role: 'viewer' }), ok: 201, roles: ADMIN, super: 400, foreign: 201 },
  { method: 'GET', route: '/users/:id', path: '/users/{id}', target: someUser, ok: 200, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'PATCH', route: '/users/:id', path: '/users/{id}', target: freshUser, body: { disabled: false }, ok: 200, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'POST', route: '/users/:id/unlock', path: '/users/{id}/unlock', target: freshUser, ok: 204, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'DELETE', route: '/users/:id', path: '/users/{id}', target: freshUser, ok: 204, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'GET', route: '/api-keys', ok: 200, roles: ADMIN, super: 200, foreign: 200 },
  { method: 'POST', route: '/api-keys', body: () => ({ name: unique('key'), role: 'viewer' }), ok: 201, roles: ADMIN, super: 201, foreign: 201 },
  { method: 'POST', route: '/api-keys/:id/revoke', path: '/api-keys/{id}/revoke', target: freshKey, ok: 204, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'GET', route: '/tenants', ok: 403, roles: [], super: 200, foreign: 403 },
  { method: 'POST', route: '/tenants', body: () => ({ id: unique('t'), name: 'T' }), ok: 403, roles: [], super: 201, foreign: 403 },
  { method: 'GET', route: '/hosts', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/hosts/:id', path: '/hosts/{id}', target: ownHost, ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'GET', route: '/hosts/:id/processes/:entity_id', path: '/hosts/{id}', target: ownProcess, ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'GET', route: '/hosts/:id/process-tree', path: '/hosts/{id}/process-tree', target: ownHost, ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'GET', route: '/agents', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/agents/:id', path: '/agents/{id}', target: ownHost, ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'POST', route: '/agents/:id/revoke', path: '/agents/{id}/revoke', target: ownHost, ok: 200, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'GET', route: '/enrollment-tokens', ok: 200, roles: ADMIN, super: 200, foreign: 200 },
  { method: 'POST', route: '/enrollment-tokens', body: {}, ok: 201, roles: ADMIN, super: 201, foreign: 201 },
  { method: 'POST', route: '/enrollment-tokens/:id/revoke', path: '/enrollment-tokens/{id}/revoke', target: freshToken, ok: 204, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'GET', route: '/policies', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/policies/:name', path: '/policies/own-only', ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'PUT', route: '/policies/:name', path: '/policies/baseline', body: { document: { sensors: ['process'] } }, ok: 200, roles: ADMIN, super: 200, foreign: 200 },
  { method: 'GET', route: '/policies/:name/acks', path: '/policies/own-only/acks', ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'GET', route: '/dlp/datasets', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/dlp/datasets/:id', path: '/dlp/datasets/{id}', target: freshDataset, ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'POST', route: '/dlp/datasets', body: datasetBody, ok: 201, roles: ADMIN, super: 201, foreign: 201 },
  { method: 'DELETE', route: '/dlp/datasets/:id', path: '/dlp/datasets/{id}', target: freshDataset, ok: 204, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'GET', route: '/events', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'POST', route: '/hunt', body: { sql: 'SELECT count() AS n FROM telemetry_events' }, ok: 200, roles: HUNTERS, super: 200, foreign: 200 },
  { method: 'GET', route: '/ledger/checkpoint', ok: 200, roles: ADMIN, super: 200, foreign: 200 },
  { method: 'POST', route: '/ledger/checkpoint', ok: 200, roles: ADMIN, super: 200, foreign: 200 },
  { method: 'GET', route: '/ledger/entries', ok: 200, roles: ADMIN, super: 200, foreign: 200 },
  { method: 'GET', route: '/ledger/proof/inclusion', path: '/ledger/proof/inclusion?index={id}', target: ownEntry, ok: 200, roles: ADMIN, super: 200, foreign: 404 },
  { method: 'GET', route: '/ledger/proof/consistency', path: '/ledger/proof/consistency?from=1', ok: 200, roles: ADMIN, super: 200, foreign: 200 },
  { method: 'POST', route: '/ledger/verify', body: {}, ok: 200, roles: ADMIN, super: 200, foreign: 200 },
  { method: 'GET', route: '/stats/overview', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/stats/mitre', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/stream', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'POST', route: '/stream/ticket', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/alerts', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/alerts/:id', path: '/alerts/{id}', target: ownAlert, ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'POST', route: '/alerts/:id/acknowledge', path: '/alerts/{id}/acknowledge', target: ownAlert, body: {}, ok: 200, roles: TRIAGERS, super: 404, foreign: 404 },
  { method: 'POST', route: '/alerts/:id/assign', path: '/alerts/{id}/assign', target: ownAlert, body: { assignee: 'analyst@default.test' }, ok: 200, roles: TRIAGERS, super: 404, foreign: 404 },
  { method: 'POST', route: '/alerts/:id/comment', path: '/alerts/{id}/comment', target: ownAlert, body: { text: 'seen' }, ok: 200, roles: TRIAGERS, super: 404, foreign: 404 },
  // Suppression was replaced by exceptions: whoever may triage gets a 400 that says so.
  { method: 'POST', route: '/alerts/:id/suppress', path: '/alerts/{id}/suppress', target: ownAlert, body: () => ({ reason: 'noise', until: new Date(Date.now() + 3_600_000).toISOString() }), ok: 400, roles: TRIAGERS, super: 400, foreign: 400 },
  { method: 'POST', route: '/alerts/:id/close', path: '/alerts/{id}/close', target: ownAlert, body: { reason: 'matrix', disposition: 'benign' }, ok: 200, roles: TRIAGERS, super: 404, foreign: 404 },
  // Bulk triage acts on the caller's tenant only: the super-admin and a foreign tenant select nothing (200, 0 changed).
  { method: 'POST', route: '/alerts/bulk', body: { ids: [OWN_ALERT_ID], action: 'assign', assignee: 'matrix' }, ok: 200, roles: TRIAGERS, super: 200, foreign: 200 },
  { method: 'POST', route: '/alerts/:id/exception', path: '/alerts/{id}/exception', target: ownAlert, body: () => ({ fields: [], reason: 'matrix', expires_at: new Date(Date.now() + 60_000).toISOString() }), ok: 201, roles: TRIAGERS, super: 404, foreign: 404 },
  { method: 'GET', route: '/exceptions', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/exceptions/:id', path: '/exceptions/{id}', target: freshException, ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'POST', route: '/exceptions', body: () => ({ rule_id: BUILTIN_RULE, conditions: [{ field: 'process.executable', op: 'equals', value: `/matrix/${unique('c')}` }], reason: 'matrix' }), ok: 201, roles: TRIAGERS, super: 201, foreign: 201 },
  { method: 'PATCH', route: '/exceptions/:id', path: '/exceptions/{id}', target: freshException, body: { reason: 'changed by the matrix' }, ok: 200, roles: TRIAGERS, super: 404, foreign: 404 },
  { method: 'DELETE', route: '/exceptions/:id', path: '/exceptions/{id}', target: freshException, ok: 204, roles: TRIAGERS, super: 404, foreign: 404 },
  // Rules are platform-wide: every holder of rules:read sees them; only the platform's tenant (and the super-admin)
  // changes them; another tenant's authors may dry-run rule texts over their own events.
  { method: 'GET', route: '/intel/lists', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'POST', route: '/intel/lists', body: () => ({ name: unique('intel'), format: 'csv', content: '198.51.100.2\n' }), ok: 201, roles: AUTHORS, super: 201, foreign: 201 },
  { method: 'GET', route: '/intel/lists/:id', path: '/intel/lists/{id}', target: freshIntelList, ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'DELETE', route: '/intel/lists/:id', path: '/intel/lists/{id}', target: freshIntelList, ok: 204, roles: AUTHORS, super: 404, foreign: 404 },
  { method: 'GET', route: '/ai-usage', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/ai-usage/services', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/ai-usage/policy', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'PUT', route: '/ai-usage/policy', body: { policy: 'record' }, ok: 200, roles: ADMIN, super: 200, foreign: 200 },
  { method: 'GET', route: '/alert-sinks', ok: 200, roles: ADMIN, super: 200, foreign: 200 },
  { method: 'POST', route: '/alert-sinks', body: () => ({ name: unique('sink'), url: 'https://203.0.113.10/hook' }), ok: 201, roles: ADMIN, super: 201, foreign: 201 },
  { method: 'DELETE', route: '/alert-sinks/:id', path: '/alert-sinks/{id}', target: freshSink, ok: 204, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'GET', route: '/alert-sinks/:id', path: '/alert-sinks/{id}', target: keptSink, ok: 200, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'PATCH', route: '/alert-sinks/:id', path: '/alert-sinks/{id}', target: keptSink, body: { name: 'matrix' }, ok: 200, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'POST', route: '/alert-sinks/:id/test', path: '/alert-sinks/{id}/test', target: keptStdoutSink, ok: 200, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'GET', route: '/alert-sinks/:id/deliveries', path: '/alert-sinks/{id}/deliveries', target: keptSink, ok: 200, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'POST', route: '/alert-sinks/:id/replay', path: '/alert-sinks/{id}/replay', target: keptSink, body: {}, ok: 200, roles: ADMIN, super: 404, foreign: 404 },
  { method: 'GET', route: '/alerts/:id/deliveries', path: '/alerts/{id}/deliveries', target: ownAlert, ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'GET', route: '/incidents', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/incidents/:id', path: '/incidents/{id}', target: freshIncident, ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'GET', route: '/alerts/:id/incident', path: '/alerts/{id}/incident', target: groupedAlert, ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'PATCH', route: '/incidents/:id', path: '/incidents/{id}', target: freshIncident, body: { title: 'matrix' }, ok: 200, roles: TRIAGERS, super: 404, foreign: 404 },
  { method: 'POST', route: '/incidents/:id/notes', path: '/incidents/{id}/notes', target: freshIncident, body: { text: 'matrix' }, ok: 201, roles: TRIAGERS, super: 404, foreign: 404 },
  { method: 'POST', route: '/incidents/:id/close', path: '/incidents/{id}/close', target: freshIncident, body: { disposition: 'benign', reason: 'matrix' }, ok: 200, roles: TRIAGERS, super: 404, foreign: 404 },
  { method: 'POST', route: '/incidents/:id/reopen', path: '/incidents/{id}/reopen', target: closedIncident, body: {}, ok: 200, roles: TRIAGERS, super: 404, foreign: 404 },
  { method: 'POST', route: '/incidents/:id/alerts', path: '/incidents/{id}/alerts', target: freshIncident, body: { add: [] }, ok: 200, roles: TRIAGERS, super: 404, foreign: 404 },
  { method: 'POST', route: '/incidents/:id/actions', path: '/incidents/{id}/actions', target: freshIncident, body: { add: [] }, ok: 200, roles: TRIAGERS, super: 404, foreign: 404 },
  { method: 'GET', route: '/rules', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/rules/:id', path: `/rules/${BUILTIN_RULE}`, ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'POST', route: '/rules', body: () => ruleText(), ok: 201, roles: AUTHORS, super: 201, foreign: 403 },
  { method: 'PUT', route: '/rules/:id', path: '/rules/{id}', target: freshRule, body: (id: string) => ruleText(id), ok: 200, roles: AUTHORS, super: 200, foreign: 403 },
  { method: 'POST', route: '/rules/:id/disable', path: '/rules/{id}/disable', target: freshRule, ok: 200, roles: AUTHORS, super: 200, foreign: 403 },
  { method: 'POST', route: '/rules/:id/enable', path: '/rules/{id}/enable', target: freshRule, ok: 200, roles: AUTHORS, super: 200, foreign: 403 },
  { method: 'DELETE', route: '/rules/:id', path: '/rules/{id}', target: freshRule, ok: 200, roles: AUTHORS, super: 200, foreign: 403 },
  { method: 'POST', route: '/rules/test', body: () => ({ ...ruleText(), hours: 1 }), ok: 200, roles: AUTHORS, super: 200, foreign: 200 },
  { method: 'POST', route: '/hosts/:id/isolate', path: '/hosts/{id}/isolate', target: ownHost, body: { reason: 'matrix' }, ok: 202, roles: RESPONDERS, super: 404, foreign: 404 },
  { method: 'POST', route: '/hosts/:id/release', path: '/hosts/{id}/release', target: ownHost, body: { reason: 'matrix' }, ok: 202, roles: RESPONDERS, super: 404, foreign: 404 },
  { method: 'POST', route: '/hosts/:id/kill-process', path: '/hosts/{id}/kill-process', target: ownHost, body: { pid: 4242, entity_id: 'e1', reason: 'matrix' }, ok: 202, roles: RESPONDERS, super: 404, foreign: 404 },
  { method: 'POST', route: '/hosts/:id/collect', path: '/hosts/{id}/collect', target: ownHost, body: { paths: ['/etc/hostname'], reason: 'matrix' }, ok: 202, roles: RESPONDERS, super: 404, foreign: 404 },
  { method: 'POST', route: '/hosts/:id/list-processes', path: '/hosts/{id}/list-processes', target: ownHost, body: {}, ok: 202, roles: RESPONDERS, super: 404, foreign: 404 },
  { method: 'POST', route: '/hosts/:id/get-file', path: '/hosts/{id}/get-file', target: ownHost, body: { path: '/etc/hostname', reason: 'matrix' }, ok: 202, roles: RESPONDERS, super: 404, foreign: 404 },
  // Approval of an action that needs none: the caller is allowed, the action refuses (409).
  { method: 'POST', route: '/ir/actions/:id/approve', path: '/ir/actions/{id}/approve', target: freshAction, ok: 409, roles: RESPONDERS, super: 404, foreign: 404 },
  { method: 'GET', route: '/ir/actions', ok: 200, roles: ALL, super: 200, foreign: 200 },
  { method: 'GET', route: '/ir/actions/:id', path: '/ir/actions/{id}', target: freshAction, ok: 200, roles: ALL, super: 404, foreign: 404 },
  { method: 'GET', route: '/ir/artifacts/:id', path: '/ir/artifacts/no-such-artefact', ok: 404, roles: ALL, super: 404, foreign: 404 },
  // Logs the caller out: last, so the other rows still have live tokens.
  { method: 'POST', route: '/auth/logout', ok: 204, roles: ALL, super: 204, foreign: 204 },
];


function expected(row: Row, cell: Cell): number {
  if (cell === 'super') return row.super;
  if (cell === 'foreign') return row.foreign;
  return row.roles === ALL || row.roles.includes(cell) ? row.ok : 403;
}

async function request(row: Row, token: string | undefined): Promise<number> {
  const id = row.target ? await row.target(f) : '';
  const path = (row.path ?? row.route).replace('{id}', id);
  const body = typeof row.body === 'function' ? (row.body as (id: string) => unknown)(id) : row.body;
  if (row.route === '/stream') {
    const ctl = new AbortController();
    const res = await fetch(`${f.server.httpUrl}/api/v1${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {}, signal: ctl.signal });
    ctl.abort();
    return res.status;
  }
  return (await call(f, row.method, path, { token, body })).status;
}

before(async () => {
  f = await startFixture();
  await drained(f);
  await call(f, 'PUT', '/policies/own-only', { token: f.adminKey, body: { document: { sensors: ['process', 'file'] } } });
  const now = new Date().toISOString();
  await f.server.detection.alerts.write([{ id: OWN_ALERT_ID, tenant_id: 'default', host_id: f.agents[0].identity.agentId,
    rule: { id: BUILTIN_RULE, title: 'Netcat Reverse Shell', level: 'high', references: [], type: 'single' },
    mitre: [], events: [], event_ids: [], first_seen: now, last_seen: now }]);
});
after(async () => f.stop());

test('every route under /api/v1 has a row in the matrix', async () => {
  const doc = (await (await fetch(`${f.server.httpUrl}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
  const routes = Object.entries(doc.paths).filter(([p]) => p.startsWith('/api/v1/'))
    .flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p.slice('/api/v1'.length).replace(/\{(\w+)\}/g, ':$1')}`));
  const rows = new Set(MATRIX.map((r) => `${r.method} ${r.route}`));
  assert.deepEqual(routes.filter((r) => !rows.has(r)), [], 'routes without a matrix row');
  assert.deepEqual([...rows].filter((r) => !routes.includes(r)), [], 'matrix rows without a route');
});

test('the authorisation matrix: each role, the super-admin, a foreign tenant and no credential', async () => {
  const failures: string[] = [];
  for (const row of MATRIX) {
    for (const cell of [...ROLES, 'super', 'foreign'] as Cell[]) {
      const got = await request(row, f.tokens[cell]);
      if (got !== expected(row, cell)) failures.push(`${row.method} ${row.route} as ${cell}: ${got}, expected ${expected(row, cell)}`);
    }
    if (row.route === '/auth/logout') continue;
    const anonymous = await request(row, undefined);
    const want = row.public ? row.ok : 401;
    if (anonymous !== want) failures.push(`${row.method} ${row.route} without a credential: ${anonymous}, expected ${want}`);
  }
  assert.deepEqual(failures, []);
});

test('expired, tampered, revoked and wrong-type credentials are 401 with a precise code', async () => {
  const me = (token: string) => call(f, 'GET', '/auth/me', { token });
  const session = await login(f, 'viewer@default.test');
  assert.equal((await me(session.access_token)).status, 200);

  const past = new AccessTokens({ key: loadOrCreateAccessTokenKey(f.dir), clock: () => Date.now() - 3_600_000 });
  const expired = (await past.issue('user:x', 'default', 'admin')).token;
  assert.equal((await me(expired)).body.code, 'expired');

  const [h, p, s] = session.access_token.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  const elevated = Buffer.from(JSON.stringify({ ...claims, role: 'admin' })).toString('base64url');
  const tampered = await me(`${h}.${elevated}.${s}`);
  assert.deepEqual([tampered.status, tampered.body.code], [401, 'tampered']);

  const wrongType = await me(session.refresh_token);
  assert.deepEqual([wrongType.status, wrongType.body.code], [401, 'wrong_type']);

  assert.equal((await call(f, 'POST', '/auth/logout', { token: session.access_token, body: { refresh_token: session.refresh_token } })).status, 204);
  const revoked = await me(session.access_token);
  assert.deepEqual([revoked.status, revoked.body.code], [401, 'revoked']);
  assert.equal((await call(f, 'POST', '/auth/refresh', { body: { refresh_token: session.refresh_token } })).status, 401);

  const created = await call(f, 'POST', '/api-keys', { token: f.adminKey, body: { name: 'to revoke', role: 'viewer' } });
  assert.equal((await me(created.body.key)).status, 200);
  await call(f, 'POST', `/api-keys/${created.body.id}/revoke`, { token: f.adminKey });
  const revokedKey = await me(created.body.key);
  assert.deepEqual([revokedKey.status, revokedKey.body.code], [401, 'revoked']);
});

test('refresh rotates; reusing a spent refresh token revokes the family', async () => {
  const first = await login(f, 'analyst@default.test');
  const second = await call(f, 'POST', '/auth/refresh', { body: { refresh_token: first.refresh_token } });
  assert.equal(second.status, 200);
  assert.equal(second.body.user.role, 'analyst');
  const reuse = await call(f, 'POST', '/auth/refresh', { body: { refresh_token: first.refresh_token } });
  assert.deepEqual([reuse.status, reuse.body.code], [401, 'reuse_detected']);
  assert.equal((await call(f, 'POST', '/auth/refresh', { body: { refresh_token: second.body.refresh_token } })).status, 401);
});

test('state-changing calls are in the ledger with actor, tenant, outcome and request id', async () => {
  const viewer = await login(f, 'viewer@default.test');
  const r = await call(f, 'POST', '/enrollment-tokens', { token: viewer.access_token, body: {} });
  assert.equal(r.status, 403);
  const requestId = r.headers.get('x-request-id');
  const entries = [];
  for (let from: number | null = 0; from !== null;) {
    const page = await call(f, 'GET', `/ledger/entries?from=${from}&limit=1000`, { token: f.adminKey });
    entries.push(...page.body.entries);
    from = page.body.next;
  }
  const e = entries.find((x: any) => x.request_id === requestId);
  assert.ok(e, 'the refused call is recorded');
  assert.equal(e.action, 'api.post /api/v1/enrollment-tokens');
  assert.equal(e.outcome, 'denied');
  assert.equal(e.tenant_id, 'default');
  assert.match(e.actor, /^user:/);
});

test('login failures carry their code; the admin password file logs in', async () => {
  const bad = await call(f, 'POST', '/auth/login', { body: { email: 'viewer@default.test', password: 'wrong password!!' } });
  assert.deepEqual([bad.status, bad.body.code], [401, 'bad_credentials']);
  const { readFileSync } = await import('node:fs');
  const ok = await call(f, 'POST', '/auth/login', { body: { email: 'admin@localhost', password: readFileSync(f.server.adminPasswordPath, 'utf8').trim() } });
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body.user.role, 'admin');
});
