// DLP end to end with the real embedded server and a real Agent: a DLP policy (the `dlp` section of an agent
// policy) reaches the agent and is acknowledged, with its errors; a watched process writes a file holding 3 card
// numbers under a watched path; the agent scans the real file and sends one finding event naming 3 matches with
// masked excerpts, which the built-in DLP rule turns into an alert with its exfiltration technique. The card
// numbers appear nowhere: not in the API's answers, the server's and agent's files (stores, spool, logs) or the
// log lines. The sensor is scripted (the /proc sensor does not see writes; eBPF needs privileges): the agent,
// its policy handling, scan, event path and the server are the real ones.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.ts';
import type { Observation, Sensor } from '../../src/agent/sensor.ts';
import { startEmbeddedServer, type RunningServer } from '../../src/server/embedded.ts';

const logLines: string[] = [];
const log = pino({ level: 'debug' }, new Writable({ write(chunk, _enc, cb) { logLines.push(String(chunk)); cb(); } }));

class ScriptedSensor implements Sensor {
  readonly mode = 'proc' as const;
  private sink: ((o: Observation) => void) | undefined;
  async start(emit: (o: Observation) => void): Promise<void> { this.sink = emit; }
  async stop(): Promise<void> { this.sink = undefined; }
  health() { return { mode: 'proc' as const, drops: 0, restarts: 0 }; }
  exec(pid: number, executable: string): void {
    const comm = executable.slice(executable.lastIndexOf('/') + 1);
    this.sink!({ type: 'process_start', timeMs: Date.now(), pid, ppid: 1, uid: 0, comm, executable, args: [executable], startTimeMs: Date.now() - 1000 });
  }
  write(pid: number, comm: string, path: string): void {
    this.sink!({ type: 'file_write', timeMs: Date.now(), pid, uid: 0, comm, path });
  }
}

const CARDS = ['4539578763621486', '5425233430109903', '371449635398431'];
let server: RunningServer;
let dir: string;
let adminKey: string;
let agent: Agent;
let stopped = false;
const sensor = new ScriptedSensor();

async function api(method: string, path: string, body?: unknown) {
  const res = await fetch(`${server.httpUrl}/api/v1${path}`, {
    method, headers: { authorization: `Bearer ${adminKey}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, text: await res.clone().text(), body: await res.json() as any };
}

async function until<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> {
  for (const end = Date.now() + 30_000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
    const v = await probe();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

function filesUnder(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-dlp-agent-'));
  server = await startEmbeddedServer({ dataDir: join(dir, 'server'), http: '127.0.0.1:0', grpc: '127.0.0.1:0', log });
  adminKey = readFileSync(server.adminKeyPath, 'utf8').trim();
});

after(async () => {
  if (!stopped) {
    await agent?.stop();
    await server.stop();
  }
  rmSync(dir, { recursive: true, force: true });
});

test('a DLP policy reaches the agent and is acknowledged; a written file with 3 card numbers gives a masked finding and an alert', async () => {
  const share = join(dir, 'share');
  mkdirSync(share);
  const policy = { dlp: { paths: [share], processes: ['scp'], detectors: ['payment_card', 'us_ssn'], action: 'alert', severity: 'high', bytes_per_second: 1048576 } };
  assert.equal((await api('PUT', '/policies/dlp-finance', { document: policy })).status, 200);
  agent = new Agent({ dataDir: join(dir, 'agent'), server: server.grpcAddress, caPem: server.caPem, log, sensor, batchIntervalMs: 100, enrollmentToken: await server.createEnrollmentToken() });
  await agent.start();
  const acks = await until('the acknowledgement', async () => { const a = (await api('GET', '/policies/dlp-finance/acks')).body; return a.agents?.[0]?.current && a; });
  assert.equal(acks.agents[0].version, 1);

  // A new version (detectors changed) reaches the connected agent and is acknowledged too.
  policy.dlp.detectors = ['payment_card'];
  assert.equal((await api('PUT', '/policies/dlp-finance', { document: policy })).body.version, 2);
  await until('version 2 acknowledged', async () => (await api('GET', '/policies/dlp-finance/acks')).body.agents?.[0]?.version === 2);

  const file = join(share, 'export.csv');
  writeFileSync(file, `id,customer,card\n${CARDS.map((c, i) => `${i},customer ${i},${c}`).join('\n')}\n`);
  sensor.exec(4242, '/usr/bin/scp');
  sensor.write(4242, 'scp', file);
  sensor.write(4242, 'vim', join(dir, 'elsewhere.txt')); // not watched: never scanned

  const finding = await until('the finding event', async () => {
    const events = (await api('GET', `/events?file=${encodeURIComponent(file)}`)).body.events ?? [];
    return events.find((e: any) => e.event.action === 'dlp_match');
  });
  assert.deepEqual({ ...finding.dlp, excerpts: undefined }, {
    policy: 'dlp-finance', rule: 'payment_card', kind: 'detector', matches: 3, confidence: 95, bytes_scanned: statSync(file).size,
    action: 'alert', severity: 'high', excerpts: undefined,
  });
  assert.deepEqual(finding.dlp.excerpts, ['4539********1486', '5425********9903', '***************'], 'first and last four digits; none of a 15-digit number (half or more)');
  assert.deepEqual(finding.threat.mitre, ['T1048']);
  assert.equal(finding.process.name, 'scp');
  assert.equal(agent.dlp.counters.scanned, 1);

  const alert = await until('the DLP alert', async () => (await api('GET', '/alerts?severity=high')).body.alerts?.find((a: any) => a.rule.title.startsWith('DLP Finding')));
  assert.equal(alert.rule.title, 'DLP Finding (Exfiltration Over Alternative Protocol, high)');
  assert.deepEqual(alert.techniques.map((m: any) => m.id), ['T1048']);

  // The values appear nowhere: API answers, every file of the server (stores, bus log) and the agent (spool), logs.
  stopped = true;
  await agent.stop();
  await server.stop();
  const answers = [JSON.stringify(finding), JSON.stringify(alert)];
  const haystacks = [...answers, ...logLines, ...[...filesUnder(join(dir, 'server')), ...filesUnder(join(dir, 'agent'))].map((f) => readFileSync(f, 'latin1'))];
  for (const card of CARDS) assert.ok(!haystacks.some((h) => h.includes(card)), `card ${card} found`);
  assert.ok(logLines.length > 0);
});
