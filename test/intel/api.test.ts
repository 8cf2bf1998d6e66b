// The intel list routes on a real embedded server: each format uploaded and counted; precise 400s (both or neither
// of content and url, a document not of its format, no indicator, a URL the SSRF guard refuses, an interval out of
// bounds); 409 for a name taken; roles (viewer reads, cannot write); tenants apart; the risk breakdown of a host.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { call, startFixture, type Fixture } from '../api/support.ts';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
let f: Fixture;
before(async () => { f = await startFixture(); }, { timeout: 120_000 });
after(async () => { await f?.stop(); });

test('each format is uploaded, counted and listed; deleting removes it', async () => {
  const admin = f.tokens.admin;
  const stix = await call(f, 'POST', '/intel/lists', { token: admin, body: { name: 'stix', format: 'stix', content: fixture('stix-bundle.json') } });
  assert.equal(stix.status, 201, JSON.stringify(stix.body));
  assert.deepEqual([stix.body.indicators, stix.body.rejected, stix.body.format, stix.body.source, stix.body.version], [7, 2, 'stix', 'upload', 1]);
  const misp = await call(f, 'POST', '/intel/lists', { token: admin, body: { name: 'misp', format: 'misp', content: fixture('misp-event.json'), default_confidence: 10 } });
  assert.equal(misp.status, 201, JSON.stringify(misp.body));
  assert.equal(misp.body.indicators, 6);
  const csv = await call(f, 'POST', '/intel/lists', { token: admin, body: { name: 'csv', format: 'csv', content: '1.2.3.4\nexample.org\n' } });
  assert.equal(csv.status, 201);
  const listed = await call(f, 'GET', '/intel/lists', { token: f.tokens.viewer });
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body.lists.map((l: any) => [l.name, l.indicators]), [['csv', 2], ['misp', 6], ['stix', 7]]);
  assert.ok(listed.body.lists.every((l: any) => typeof l.last_load_at === 'string'));
  assert.equal((await call(f, 'GET', '/intel/lists', { token: f.tokens.foreign })).body.lists.length, 0, 'tenants apart');
  assert.equal((await call(f, 'GET', `/intel/lists/${csv.body.id}`, { token: f.tokens.foreign })).status, 404);
  assert.equal((await call(f, 'DELETE', `/intel/lists/${csv.body.id}`, { token: f.tokens.foreign })).status, 404);
  assert.equal((await call(f, 'DELETE', `/intel/lists/${csv.body.id}`, { token: admin })).status, 204);
  assert.equal((await call(f, 'GET', `/intel/lists/${csv.body.id}`, { token: admin })).status, 404);
});

test('bad input is a precise 4xx', async () => {
  const post = (body: unknown, token = f.tokens.admin) => call(f, 'POST', '/intel/lists', { token, body });
  const cases: [unknown, number, string | RegExp][] = [
    [{ name: 'x', format: 'csv' }, 400, 'invalid_list'],
    [{ name: 'x', format: 'csv', content: '1.2.3.4', url: 'https://example.org/' }, 400, 'invalid_list'],
    [{ name: 'x', format: 'stix', content: '{"type":"identity"}' }, 400, 'invalid_feed'],
    [{ name: 'x', format: 'misp', content: 'nope' }, 400, 'invalid_feed'],
    [{ name: 'x', format: 'csv', content: 'nothing here!\n' }, 400, 'no_indicators'],
    [{ name: 'x', format: 'csv', url: 'http://127.0.0.1:9/feed' }, 400, 'forbidden_target'],
    [{ name: 'x', format: 'csv', url: 'ftp://example.org/feed' }, 400, 'invalid_url'],
    [{ name: 'x', format: 'csv', url: 'https://example.org/', poll_interval_seconds: 5 }, 400, /./],
    [{ name: 'x', format: 'yaml', content: 'a' }, 400, /./],
    [{ name: 'x', format: 'csv', content: '1.2.3.4', extra: 1 }, 400, /./],
  ];
  for (const [body, status, code] of cases) {
    const r = await post(body);
    assert.equal(r.status, status, `${JSON.stringify(body)} → ${JSON.stringify(r.body)}`);
    if (typeof code === 'string') assert.equal(r.body.code, code, JSON.stringify(r.body));
  }
  assert.equal((await post({ name: 'dup', format: 'csv', content: '1.2.3.4' })).status, 201);
  assert.equal((await post({ name: 'dup', format: 'csv', content: '1.2.3.5' })).status, 409);
  assert.equal((await post({ name: 'viewer', format: 'csv', content: '1.2.3.4' }, f.tokens.viewer)).status, 403);
  assert.equal((await call(f, 'POST', '/intel/lists', { body: { name: 'anon', format: 'csv', content: '1.2.3.4' } })).status, 401);
});

test('an intel match on the agent\'s connection alerts; the host\'s risk (detail and dashboard) counts it', async () => {
  const admin = f.tokens.admin;
  const list = await call(f, 'POST', '/intel/lists', { token: admin, body: { name: 'risk feed', format: 'csv', content: 'value,type,confidence\n127.0.0.99,ip,90\n' } });
  assert.equal(list.status, 201);
  const agent = f.agents[0];
  const hostId = agent.identity.agentId;
  let alert: any;
  for (const end = Date.now() + 30_000; !alert && Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
    const [ev] = agent.syntheticEvents(1);
    Object.assign(ev.event, { type: 'network_connection', category: 'network' });
    Object.assign(ev, { destination: { ip: '127.0.0.99', port: 443 }, source: { ip: '127.0.0.1', port: 50000 } });
    await agent.send([ev]);
    const r = await call(f, 'GET', `/alerts?host=${hostId}&limit=100`, { token: admin });
    alert = r.body.alerts.find((a: any) => a.rule.id === `intel:${list.body.id}`);
  }
  assert.ok(alert, 'the intel alert');
  const open = (await call(f, 'GET', `/alerts?host=${hostId}&status=open,acknowledged&limit=1000`, { token: admin })).body.alerts;
  const detail = await call(f, 'GET', `/hosts/${hostId}`, { token: admin });
  assert.equal(detail.status, 200);
  const risk = detail.body.risk;
  assert.equal(risk.alerts, open.length, JSON.stringify(risk));
  assert.ok(risk.by_severity.high >= 1);
  assert.equal(risk.recency_decay, 1);
  assert.ok(risk.score > 0);
  const overview = await call(f, 'GET', '/stats/overview', { token: admin });
  const top = overview.body.top_hosts.find((h: any) => h.id === hostId);
  assert.equal(top?.risk, risk.score, JSON.stringify(overview.body.top_hosts));
  assert.equal(top?.hostname, 'own-host');
});
