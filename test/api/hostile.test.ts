// Hostile input against a real embedded server: /hunt SQL that writes, reads another tenant, reads system
// tables, uses table functions, stacks statements, overrides settings or runs too long is refused with a
// precise reason (and never reaches the data); oversized and malformed bodies get 4xx, never 5xx.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, drained, FOREIGN_TENANT, startFixture, type Fixture } from './support.ts';

let f: Fixture;
before(async () => {
  f = await startFixture();
  await drained(f);
});
after(async () => f.stop());

const hunt = (sql: string) => call(f, 'POST', '/hunt', { token: f.tokens.analyst, body: { sql } });

test('a hunt sees only the caller\'s tenant, in every read of a table', async () => {
  const own = await hunt('SELECT count() AS n FROM telemetry_events');
  assert.equal(own.status, 200);
  assert.ok(Number(own.body.rows[0][0]) > 0);
  const all = await hunt(`SELECT count() AS n FROM telemetry_events WHERE tenant_id = '${FOREIGN_TENANT}'`);
  assert.equal(Number(all.body.rows[0][0]), 0);
  const sneaky = await hunt(`SELECT count() AS n FROM (SELECT * FROM process_nodes UNION ALL SELECT * FROM process_nodes)
    AS a JOIN telemetry_events AS b ON a.host_id = b.host_id WHERE b.tenant_id != 'default' OR a.tenant_id != 'default'`);
  assert.equal(sneaky.status, 200);
  assert.equal(Number(sneaky.body.rows[0][0]), 0);
  const tenants = await hunt('SELECT DISTINCT tenant_id FROM events_hourly');
  assert.deepEqual(tenants.body.rows, [['default']]);
});

test('a hunt may read its own CTEs; they see only the caller\'s tenant and cannot stand in for other tables', async () => {
  const cte = await hunt('WITH mine AS (SELECT tenant_id, host_id FROM telemetry_events), hosts_seen AS (SELECT DISTINCT host_id FROM mine) SELECT DISTINCT m.tenant_id FROM mine AS m JOIN hosts_seen AS h ON m.host_id = h.host_id');
  assert.equal(cte.status, 200, JSON.stringify(cte.body));
  assert.deepEqual(cte.body.rows, [['default']]);
  const inList = await hunt('WITH ids AS (SELECT event_id FROM telemetry_events) SELECT count() FROM telemetry_events WHERE event_id IN ids');
  assert.equal(inList.status, 200, JSON.stringify(inList.body));
  for (const sql of ['WITH telemetry_events AS (SELECT name FROM system.tables) SELECT * FROM telemetry_events',
    'WITH system AS (SELECT 1) SELECT * FROM system.tables', 'WITH x AS (SELECT 1) SELECT * FROM system.users']) {
    const r = await hunt(sql);
    assert.deepEqual([r.status, r.body.code], [400, 'hunt_table_not_allowed'], sql);
  }
});

test('a hunt result is limited and says so', async () => {
  const r = await call(f, 'POST', '/hunt', { token: f.tokens.analyst, body: { sql: 'SELECT event_id FROM telemetry_events', limit: 3 } });
  assert.equal(r.status, 200);
  assert.equal(r.body.rows.length, 3);
  assert.equal(r.body.truncated, true);
  assert.deepEqual(r.body.columns, ['event_id']);
});

const REFUSED: [string, string, number][] = [
  ["INSERT INTO telemetry_events (tenant_id) VALUES ('x')", 'hunt_not_select', 400],
  ['ALTER TABLE telemetry_events DELETE WHERE 1', 'hunt_not_select', 400],
  ['DROP TABLE telemetry_events', 'hunt_not_select', 400],
  ['SELECT 1; DROP TABLE telemetry_events', 'hunt_multiple_statements', 400],
  ['SELECT 1; SELECT 2;', 'hunt_multiple_statements', 400],
  ['SELECT * FROM system.tables', 'hunt_table_not_allowed', 400],
  ['SELECT name FROM system.users', 'hunt_table_not_allowed', 400],
  ['SELECT * FROM default.telemetry_events', 'hunt_table_not_allowed', 400],
  ['SELECT 1 FROM telemetry_events WHERE event_id IN (SELECT name FROM system.tables)', 'hunt_table_not_allowed', 400],
  ["SELECT * FROM file('/etc/passwd', 'LineAsString')", 'hunt_table_function', 400],
  ["SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')", 'hunt_table_function', 400],
  ["SELECT * FROM remote('127.0.0.1', 'default', 'telemetry_events')", 'hunt_table_function', 400],
  ["SELECT file('/etc/passwd')", 'hunt_function_not_allowed', 400],
  ["SELECT dictGet('d', 'a', 1)", 'hunt_function_not_allowed', 400],
  ['SELECT count() FROM process_nodes WHERE 1 IN telemetry_events', 'hunt_table_as_value', 400],
  ['SELECT count() FROM telemetry_events SETTINGS additional_table_filters = {}', 'hunt_settings', 400],
  ['SELECT count() FROM telemetry_events SETTINGS max_execution_time = 1000', 'hunt_settings', 400],
  ["SELECT * FROM telemetry_events INTO OUTFILE '/tmp/x'", 'hunt_output_clause', 400],
  ['SELECT * FROM telemetry_events FORMAT CSV', 'hunt_output_clause', 400],
  ['SELEC nonsense', 'hunt_syntax', 400],
  ['SELECT sleep(2)', 'hunt_timeout', 422],
  ['SELECT no_such_column FROM telemetry_events', 'hunt_query_failed', 422],
];

test('hunt SQL that writes, escapes the tenant, reads other tables, stacks statements or runs too long is refused', async () => {
  const failures: string[] = [];
  for (const [sql, code, status] of REFUSED) {
    const r = await hunt(sql);
    if (r.status !== status || r.body.code !== code || !r.body.detail) failures.push(`${sql}: ${r.status} ${r.body.code} (${r.body.detail})`);
  }
  assert.deepEqual(failures, []);
  const still = await hunt('SELECT count() AS n FROM telemetry_events');
  assert.ok(Number(still.body.rows[0][0]) > 0, 'the table is intact');
});

test('oversized and malformed bodies are 4xx, never 5xx', async () => {
  const token = f.adminKey;
  const cases: [string, string, { raw?: string; body?: unknown; headers?: Record<string, string> }][] = [
    ['POST', '/hunt', { raw: JSON.stringify({ sql: `SELECT '${'x'.repeat(200_000)}'` }) }],
    ['POST', '/auth/login', { raw: JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(40_000) }) }],
    ['PUT', '/policies/big', { raw: JSON.stringify({ document: { blob: 'x'.repeat(2_000_000) } }) }],
    ['POST', '/users', { raw: '{"email": "a@b.c", "password":' }],
    ['POST', '/users', { raw: '[1,2,3]' }],
    ['POST', '/users', { raw: 'null' }],
    ['POST', '/users', { body: { email: 'a@b.c', password: 'long enough password', role: 'super-admin' } }],
    ['POST', '/users', { body: { email: 'a@b.c', password: 'long enough password', role: 'viewer', tenant_id: 'other' } }],
    ['POST', '/users', { raw: 'email=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } }],
    ['POST', '/hunt', { body: { sql: 42 } }],
    ['POST', '/hunt', { body: { sql: 'SELECT 1', limit: -1 } }],
    ['PATCH', '/users/x', { body: {} }],
    ['GET', '/ledger/proof/inclusion?index=-1', {}],
    ['GET', '/ledger/proof/inclusion?index=999999999', {}],
    ['GET', '/ledger/proof/consistency?from=5&to=2', {}],
    ['GET', '/ledger/entries?from=abc', {}],
    ['GET', '/events?from=yesterday', {}],
    ['GET', '/events?cursor=%00%01', {}],
    ['POST', '/api-keys', { body: { name: 'k', role: 'viewer', expires_at: 'not a date' } }],
    ['POST', '/tenants', { body: { id: '_platform', name: 'x' } }],
  ];
  const failures: string[] = [];
  for (const [method, path, o] of cases) {
    const r = await call(f, method, path, { token, ...o });
    if (r.status < 400 || r.status >= 500 || r.headers.get('content-type')?.startsWith('application/problem+json') !== true) {
      failures.push(`${method} ${path}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    }
  }
  assert.deepEqual(failures, []);
});

test('a malformed exported checkpoint makes verification fail with the reason, not the request', async () => {
  const r = await call(f, 'POST', '/ledger/verify', { token: f.adminKey, body: { checkpoints: ['not a note'] } });
  assert.equal(r.status, 200);
  assert.equal(r.body.ok, false);
  assert.match(r.body.detail, /exported checkpoint: malformed note/);
  assert.equal((await call(f, 'POST', '/ledger/verify', { token: f.adminKey, body: {} })).body.ok, true);
});
