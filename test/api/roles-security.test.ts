// The scale-out API behind one address is several processes: two `vigil api` processes (NATS JetStream in a
// private namespace, the ClickHouse HTTP fixture, a fresh PostgreSQL database; test/fixtures/vigil-roles.ts) share
// their keys and identity store. A stream ticket issued by one opens the stream on the other, once. Each role
// process's /metrics (on its health port, and the API's own port) needs the Bearer scrape token
// (VIGIL_METRICS_TOKEN); a process without one refuses every scrape; /healthz and /readyz say nothing of tenants.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JetStreamBus } from '../../src/bus/jetstream.ts';
import { ApiKeys } from '../../src/identity/api-key.ts';
import { openPostgresIdentityStore } from '../../src/stores/identity/postgres.ts';
import { createTempDatabase, type TempDatabase } from '../support/postgres.ts';
import { spawnClickHouseFixture } from '../fixtures/clickhouse-http-server.ts';
import { metricsHeaders, ROLE_METRICS_TOKEN, spawnRole, stopProcess, type RoleProcess } from '../fixtures/vigil-roles.ts';

const NATS = 'nats://127.0.0.1:4222';
const namespace = `sec${randomBytes(4).toString('hex')}`;

let dir: string;
let db: TempDatabase;
let clickhouse: Awaited<ReturnType<typeof spawnClickHouseFixture>>;
let a: RoleProcess;
let b: RoleProcess;
let apiKey: string;

const env = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  ...process.env, VIGIL_NATS_URL: NATS, VIGIL_BUS_NAMESPACE: namespace, VIGIL_BUS_MAX_BYTES: String(64 * 2 ** 20), VIGIL_CLICKHOUSE_URL: clickhouse.url,
  VIGIL_POSTGRES_URL: db.url, VIGIL_PKI_DIR: join(dir, 'pki'), VIGIL_HEALTH: '127.0.0.1:0', VIGIL_LOG_LEVEL: 'warn', ...extra,
});

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-roles-sec-'));
  mkdirSync(join(dir, 'pki'), { mode: 0o700 });
  db = await createTempDatabase('rolesec');
  clickhouse = await spawnClickHouseFixture(join(dir, 'clickhouse'));
  a = await spawnRole(['api', '--http', '127.0.0.1:0'], env());
  // The second process shares the keys (the same VIGIL_PKI_DIR) but has no scrape token.
  b = await spawnRole(['api', '--http', '127.0.0.1:0'], env({ VIGIL_METRICS_TOKEN: '' }));
  const identity = await openPostgresIdentityStore({ connectionString: db.url });
  apiKey = (await new ApiKeys({ store: identity }).create({ tenantId: 'default', name: 'sec', role: 'analyst', createdBy: 'system' })).key;
  await identity.close();
});

after(async () => {
  for (const p of [a, b]) if (p) await stopProcess(p.child, 'SIGKILL');
  await clickhouse?.stop();
  await JetStreamBus.deleteStreams(NATS, namespace).catch(() => {});
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function streamStatus(p: RoleProcess, ticket: string): Promise<number> {
  const ctl = new AbortController();
  const res = await fetch(`http://${p.addresses.http}/api/v1/stream?ticket=${encodeURIComponent(ticket)}`, { signal: ctl.signal });
  ctl.abort();
  return res.status;
}

test('a stream ticket of one API process opens the stream on another, once across both', async () => {
  const issued = await fetch(`http://${a.addresses.http}/api/v1/stream/ticket`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}` } });
  assert.equal(issued.status, 200);
  const { ticket } = await issued.json() as { ticket: string };
  assert.equal(await streamStatus(b, ticket), 200, 'redeemed by the other process');
  assert.equal(await streamStatus(a, ticket), 401, 'and then by neither');
  assert.equal(await streamStatus(b, ticket), 401);
});

test('/metrics of a role process needs the scrape token, on the health port and on the API port', async () => {
  for (const url of [`http://${a.addresses.health}/metrics`, `http://${a.addresses.http}/metrics`]) {
    assert.equal((await fetch(url)).status, 401, `${url} without a credential`);
    assert.equal((await fetch(url, { headers: { authorization: `Bearer ${apiKey}` } })).status, 401, `${url} with an API key`);
    assert.equal((await fetch(url, { headers: { authorization: `Bearer ${ROLE_METRICS_TOKEN}x` } })).status, 401, `${url} with a wrong token`);
    const ok = await fetch(url, { headers: metricsHeaders });
    assert.equal(ok.status, 200, `${url} with the token`);
    assert.match(await ok.text(), /^process_cpu_user_seconds_total /m);
  }
  for (const url of [`http://${b.addresses.health}/metrics`, `http://${b.addresses.http}/metrics`]) {
    assert.equal((await fetch(url, { headers: metricsHeaders })).status, 401, `${url}: no token configured, every scrape refused`);
  }
});

test('/healthz and /readyz answer without a credential and name no tenant', async () => {
  for (const p of [a, b]) {
    for (const path of ['/healthz', '/readyz']) {
      for (const base of [p.addresses.health, p.addresses.http]) {
        const r = await fetch(`http://${base}${path}`);
        assert.equal(r.status, 200, `${base}${path}`);
        const text = await r.text();
        assert.match(text, /^\{"status":"(ok|ready)"\}$/, `${base}${path}: ${text}`);
      }
    }
  }
});
