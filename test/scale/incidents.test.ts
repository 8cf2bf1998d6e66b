// Incidents in the scale-out roles, end to end: `vigil server` (ingest, worker, API) and a second `vigil api`
// process on NATS JetStream (a private namespace), the ClickHouse HTTP fixture and a fresh PostgreSQL database. A
// simulated agent sends the incident scenario (test/incidents/scenario.ts): the worker groups its alerts in
// PostgreSQL into two incidents (the attack chain, and the admin's session under the same sshd), which both API
// processes list alike; a change through one API process is seen by the other and recorded in the shared ledger;
// a later child of the attack's shell joins its incident.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedAgent } from '../../src/agent/simulator.ts';
import { JetStreamBus } from '../../src/bus/jetstream.ts';
import { ApiKeys } from '../../src/identity/api-key.ts';
import { loadOrCreateCa } from '../../src/pki/pki.ts';
import { issueEnrollmentToken } from '../../src/stores/metadata/enrollment-tokens.ts';
import { openPostgresIdentityStore } from '../../src/stores/identity/postgres.ts';
import { PostgresMetadataStore } from '../../src/stores/metadata/postgres.ts';
import { createTempDatabase, type TempDatabase } from '../support/postgres.ts';
import { spawnClickHouseFixture } from '../fixtures/clickhouse-http-server.ts';
import { freePort, spawnRole, stopProcess, type RoleProcess } from '../fixtures/vigil-roles.ts';
import { until } from '../response/helpers.ts';
import { SCENARIO_RULE_TITLES, scenarioEvents, writeScenarioRules } from '../incidents/scenario.ts';

const NATS = 'nats://127.0.0.1:4222';
const namespace = `inc${randomBytes(4).toString('hex')}`;
let db: TempDatabase;
let dir: string;
let clickhouse: Awaited<ReturnType<typeof spawnClickHouseFixture>>;
const running: RoleProcess[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-scale-incidents-'));
  db = await createTempDatabase('incidents_roles');
  clickhouse = await spawnClickHouseFixture(join(dir, 'clickhouse'));
  mkdirSync(join(dir, 'pki'), { mode: 0o700 });
  writeScenarioRules(join(dir, 'rules'));
});

after(async () => {
  for (const p of running) await stopProcess(p.child, 'SIGTERM');
  await clickhouse?.stop();
  await JetStreamBus.deleteStreams(NATS, namespace);
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

async function role(args: string[]): Promise<RoleProcess> {
  const p = await spawnRole(args, {
    ...process.env, VIGIL_NATS_URL: NATS, VIGIL_BUS_NAMESPACE: namespace, VIGIL_BUS_MAX_BYTES: String(256 * 2 ** 20), VIGIL_CLICKHOUSE_URL: clickhouse.url,
    VIGIL_POSTGRES_URL: db.url, VIGIL_PKI_DIR: join(dir, 'pki'), VIGIL_RULE_DIRS: join(dir, 'rules'),
    VIGIL_HEALTH: '127.0.0.1:0', VIGIL_LOG_LEVEL: 'warn',
  });
  running.push(p);
  return p;
}

test('scale-out: the worker groups the scenario into two incidents in PostgreSQL; both API processes serve and change them', { timeout: 120_000 }, async () => {
  const grpc = `127.0.0.1:${await freePort()}`;
  const server = await role(['server', '--grpc', grpc, '--http', '127.0.0.1:0']);
  const api = await role(['api', '--http', '127.0.0.1:0']);

  const identity = await openPostgresIdentityStore({ connectionString: db.url });
  const { key } = await new ApiKeys({ store: identity }).create({ tenantId: 'default', name: 'incidents', role: 'admin', createdBy: 'test' });
  await identity.close();
  const metadata = new PostgresMetadataStore({ connectionString: db.url });
  const { token } = await issueEnrollmentToken(metadata, 'default', 60_000, 1);
  await metadata.close();
  const agent = await SimulatedAgent.enroll(grpc, (await loadOrCreateCa(join(dir, 'pki'))).certPem, token, 'sim-incidents');
  agent.connect();
  try {
    const call = async (via: RoleProcess, path: string, method = 'GET', body?: unknown) => {
      const res = await fetch(`http://${via.addresses.http}/api/v1${path}`, {
        method, body: body === undefined ? undefined : JSON.stringify(body),
        headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      });
      return { status: res.status, body: await res.json() as any };
    };

    const events = scenarioEvents(() => agent.syntheticEvents(1)[0], Date.now() - 60_000, 'scale');
    assert.equal((await agent.send(events)).accepted, events.length);
    const listed = await until('two incidents holding four alerts', async () => {
      const r = await call(api, '/incidents');
      return r.status === 200 && r.body.total === 2 && r.body.incidents.reduce((n: number, i: any) => n + i.alert_count, 0) === 4 ? r.body : undefined;
    }, 60_000);
    const attack = listed.incidents.find((i: any) => i.alert_count === 3);
    const admin = listed.incidents.find((i: any) => i.alert_count === 1);
    assert.ok(attack && admin, JSON.stringify(listed));
    assert.equal(attack.severity, 'high');
    assert.deepEqual(attack.host_ids, [agent.identity.agentId]);
    assert.equal(admin.severity, 'low');
    assert.deepEqual((await call(server, '/incidents')).body, listed, 'the other API process lists the same');

    const detail = (await call(server, `/incidents/${attack.id}`)).body;
    assert.deepEqual(detail.alerts.map((a: any) => a.rule.title).sort(), [SCENARIO_RULE_TITLES.chmod, SCENARIO_RULE_TITLES.curl, SCENARIO_RULE_TITLES.netcat].sort());
    assert.deepEqual(detail.timeline.filter((e: any) => e.kind === 'event').map((e: any) => e.process.executable), ['/usr/bin/curl', '/usr/bin/chmod', '/usr/bin/nc']);
    assert.equal((await call(api, `/alerts/${detail.alert_ids[0]}/incident`)).body.id, attack.id);

    // A change through one API process, seen by the other, in the one ledger.
    const closed = await call(api, `/incidents/${admin.id}/close`, 'POST', { disposition: 'benign', reason: 'the admin checking who they are' });
    assert.equal(closed.status, 200, JSON.stringify(closed.body));
    assert.equal((await call(server, `/incidents/${admin.id}`)).body.status, 'closed');
    assert.deepEqual((await call(server, '/incidents?status=open')).body.incidents.map((i: any) => i.id), [attack.id]);
    const entries = (await call(server, '/ledger/entries?limit=1000')).body.entries.filter((e: any) => e.action === 'incidents.close');
    assert.equal(entries.length, 1);
    assert.equal(entries[0].details.disposition, 'benign');

    // Later, another child of the attack's shell (a second curl): it joins the open attack incident by lineage.
    const curl = events.find((e) => e.process!.executable === '/usr/bin/curl')!;
    const again = { ...curl, '@timestamp': new Date().toISOString(), event: { ...curl.event, id: '0190c0de-5ca1-7000-8000-999999999999' },
      process: { ...curl.process!, pid: 1201, entity_id: 'scale-curl-2' } };
    assert.equal((await agent.send([again])).accepted, 1);
    const grown = await until('the second curl in the attack incident', async () => {
      const r = await call(api, `/incidents/${attack.id}`);
      return r.body.alert_count === 4 ? r.body : undefined;
    }, 60_000);
    assert.equal(grown.title, attack.title.replace('(+2 alerts)', '(+3 alerts)'));
    assert.equal((await call(api, '/incidents')).body.total, 2);
  } finally {
    agent.close();
  }
});
