// Exact data match on the agent, end to end (issue 23): a 100,000-row synthetic customer CSV uploaded through the
// API of the real embedded server; a policy naming the data set (by name) reaches the real Agent with the set's
// reference and the tenant's key; the agent pulls the fingerprint set down its mTLS stream in 1 MiB pieces,
// verifies it against its version (SHA-256), keeps it and acknowledges the policy once the set is loaded (before
// that its acknowledgement says the set is loading). A watched process writes a file holding 3 rows of the data
// set: the finding names the data set and 3 matched records, and no value of those rows is anywhere: API
// answers, every file of the server (SQLite stores, chdb, bus log, ledger) and of the agent (spool, policies, the
// held set), the log lines. Replacing the data set (delete, upload under the same name) sends the new version:
// the agent drops the old one and loads the new. The sensor is scripted (the /proc sensor does not see writes).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.ts';
import type { Observation, Sensor } from '../../src/agent/sensor.ts';
import { startEmbeddedServer, type RunningServer } from '../../src/server/embedded.ts';
import { syntheticCsv, syntheticRow } from '../fixtures/dlp/synthetic.ts';

const logLines: string[] = [];
const log = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } }));

class ScriptedSensor implements Sensor {
  readonly mode = 'proc' as const;
  private sink: ((o: Observation) => void) | undefined;
  async start(emit: (o: Observation) => void): Promise<void> { this.sink = emit; }
  async stop(): Promise<void> { this.sink = undefined; }
  health() { return { mode: 'proc' as const, drops: 0, restarts: 0 }; }
  write(pid: number, comm: string, path: string): void {
    this.sink!({ type: 'file_write', timeMs: Date.now(), pid, uid: 0, comm, path });
  }
}

const COLUMNS = [{ name: 'name', type: 'name' }, { name: 'email', type: 'email' }, { name: 'ssn', type: 'digits' }, { name: 'card', type: 'card' }];
let server: RunningServer | undefined;
let dir: string;
let adminKey: string;
let agent: Agent | undefined;
const sensor = new ScriptedSensor();

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${server!.httpUrl}/api/v1${path}`, {
    method, headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) as any : undefined };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const v = await probe();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const filesUnder = (root: string): string[] =>
  readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
const loadedLog = () => logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'agent loaded DLP data sets');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-dlp-delivery-'));
  server = await startEmbeddedServer({ dataDir: join(dir, 'server'), http: '127.0.0.1:0', grpc: '127.0.0.1:0', log });
  adminKey = readFileSync(server.adminKeyPath, 'utf8').trim();
});

after(async () => {
  await agent?.stop();
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a data set named by a policy reaches the agent, which finds 3 of its rows in a written file without any value leaking', async () => {
  const up = await api('POST', '/dlp/datasets', { name: 'customers', columns: COLUMNS, csv: syntheticCsv(100_000) });
  assert.equal(up.status, 201, up.text);
  assert.equal(up.body.fingerprints, 400_000);
  const share = join(dir, 'share');
  mkdirSync(share);
  const policy = { dlp: { paths: [share], datasets: ['customers'], detectors: ['iban'], action: 'alert', severity: 'critical', bytes_per_second: 1048576 } };
  assert.equal((await api('PUT', '/policies/dlp-edm', { document: policy })).status, 200);

  agent = new Agent({ dataDir: join(dir, 'agent'), server: server!.grpcAddress, caPem: server!.caPem, log, sensor, batchIntervalMs: 100, enrollmentToken: await server!.createEnrollmentToken() });
  await agent.start();
  // Acknowledged (recorded) once the set is loaded; before, the agent said it was loading it.
  await until('the acknowledgement', async () => (await api('GET', '/policies/dlp-edm/acks')).body.agents?.[0]?.current);
  assert.ok(logLines.some((l) => l.includes('agent could not apply a policy') && l.includes('dlp.datasets: loading customers@')));
  const [loaded] = loadedLog();
  assert.equal(loaded.datasets.length, 1);
  assert.match(loaded.datasets[0], new RegExp(`^${up.body.id}@[0-9a-f]{64}$`));
  const version = loaded.datasets[0].split('@')[1];
  assert.equal(agent.dlp.datasets.set(version)!.size, 400_000);
  assert.ok(agent.dlp.datasets.counters.chunks >= Math.ceil(up.body.bytes / 2 ** 20), 'pieces of at most 1 MiB');
  assert.equal(agent.dlp.datasets.counters.downloaded, 1);
  assert.ok(existsSync(join(dir, 'agent', 'datasets', `${version}.fps`)));

  const rows = [syntheticRow(7), syntheticRow(40_000), syntheticRow(99_998)];
  const file = join(share, 'leak.csv');
  writeFileSync(file, `note,who,mail,ssn,card\n${rows.map((r, i) => `line ${i},${r.join(',')}`).join('\n')}\nline 9,Nobody Here,nobody@elsewhere.org,123-45-6789,4111111111111111\n`);
  sensor.write(4242, 'scp', file);
  const finding = await until('the EDM finding', async () => {
    const events = (await api('GET', `/events?file=${encodeURIComponent(file)}`)).body.events ?? [];
    return events.find((e: any) => e.event.action === 'dlp_match' && e.dlp.kind === 'dataset');
  });
  assert.equal(finding.dlp.rule, 'customers');
  assert.equal(finding.dlp.matches, 3);
  assert.equal(finding.dlp.cells, 12);
  assert.equal(finding.dlp.policy, 'dlp-edm');
  const alert = await until('the DLP alert', async () => (await api('GET', '/alerts?severity=critical')).body.alerts?.find((a: any) => a.rule.title.startsWith('DLP Finding')));

  // Replaced: the policy goes again with the new version; the agent drops the old set and loads the new one.
  assert.equal((await api('DELETE', `/dlp/datasets/${up.body.id}`)).status, 204);
  const again = await api('POST', '/dlp/datasets', { name: 'customers', columns: COLUMNS, csv: syntheticCsv(1000, 2) });
  assert.equal(again.status, 201);
  const next = await until('the new version loaded', () => loadedLog().find((l) => l.datasets[0]?.startsWith(`${again.body.id}@`)));
  const nextVersion = next.datasets[0].split('@')[1];
  assert.notEqual(nextVersion, version);
  assert.equal(agent.dlp.datasets.set(version), undefined);
  assert.ok(!existsSync(join(dir, 'agent', 'datasets', `${version}.fps`)), 'the old set is removed from the agent');
  assert.equal(agent.dlp.datasets.set(nextVersion)!.size, 4000);

  // No value of the 3 rows anywhere.
  const answers = [JSON.stringify(finding), JSON.stringify(alert), JSON.stringify((await api('GET', '/events?limit=1000')).body)];
  await agent.stop();
  agent = undefined;
  await server!.stop();
  server = undefined;
  const haystacks = [...answers, ...logLines, ...[...filesUnder(join(dir, 'server')), ...filesUnder(join(dir, 'agent'))].map((f) => readFileSync(f, 'latin1'))];
  for (const v of rows.flat()) assert.ok(!haystacks.some((h) => h.includes(v)), `${v} found`);
  assert.ok(filesUnder(join(dir, 'server')).some((f) => f.endsWith('dlp.db')));
});
