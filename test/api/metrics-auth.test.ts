// GET /metrics of the embedded server lists every tenant's agent ids, so it needs the Bearer scrape token of the
// data directory (metrics-token, mode 600, created at first start); no user credential, API key or wrong token
// opens it. /healthz and /readyz stay open and reveal nothing tenant-specific. Real embedded server with agents of
// two tenants (test/api/support.ts).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FOREIGN_TENANT, startFixture, type Fixture } from './support.ts';

let f: Fixture;
before(async () => { f = await startFixture(); });
after(async () => f?.stop());

const scrape = (authorization?: string) => fetch(`${f.server.httpUrl}/metrics`, { headers: authorization ? { authorization } : {} });

test('the scrape token is in the data directory, readable by its owner only', () => {
  const path = join(f.dir, 'metrics-token');
  assert.equal(statSync(path).mode & 0o777, 0o600);
  assert.equal(readFileSync(path, 'utf8').trim(), f.server.metricsToken);
  assert.ok(f.server.metricsToken.length >= 40, '256 random bits');
});

test('/metrics refuses a scrape without the token, with a user credential or an API key', async () => {
  const refusals = [undefined, `Bearer ${f.adminKey}`, `Bearer ${f.tokens.admin}`, `Bearer ${f.tokens.super}`, `Bearer ${f.server.metricsToken}x`,
    `Basic ${Buffer.from(`metrics:${f.server.metricsToken}`).toString('base64')}`, f.server.metricsToken];
  for (const authorization of refusals) {
    const r = await scrape(authorization);
    assert.equal(r.status, 401, `${authorization?.slice(0, 12)}…`);
    assert.equal(r.headers.get('www-authenticate'), 'Bearer realm="metrics"');
    const text = await r.text();
    for (const agent of f.agents) assert.ok(!text.includes(agent.identity.agentId), 'no agent id in a refusal');
  }
});

test('/metrics with the token lists the metrics, agents of every tenant included', async () => {
  for (const agent of f.agents) agent.heartbeat(); // heartbeats set vigil_agent_drops{host=<agent id>}
  let text = '';
  for (const until = Date.now() + 10_000; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
    const r = await scrape(`Bearer ${f.server.metricsToken}`);
    assert.equal(r.status, 200);
    text = await r.text();
    if (f.agents.every((a) => text.includes(a.identity.agentId))) break;
  }
  assert.match(text, /^vigil_connected_agents 2$/m);
  for (const agent of f.agents) assert.ok(text.includes(`host="${agent.identity.agentId}"`), 'what the token protects: every tenant\'s agent ids');
});

test('/healthz and /readyz need no credential and name no tenant, host or agent', async () => {
  for (const path of ['/healthz', '/readyz']) {
    const r = await fetch(`${f.server.httpUrl}${path}`);
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.match(text, /^\{"status":"(ok|ready)"\}$/);
    for (const secretive of ['default', FOREIGN_TENANT, ...f.agents.map((a) => a.identity.agentId)]) assert.ok(!text.includes(secretive), `${path} names ${secretive}`);
  }
});
