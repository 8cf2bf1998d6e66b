// bench:response — response actions over loopback on a real embedded server with a real agent: the round trip of
// a command (API request → agent runs it → succeeded, as the API reports it; list_processes with limit 1) and the
// throughput of a triage upload of incompressible data through the chunked, acknowledged stream, with the
// process's peak RSS growth (the upload window bounds memory, not the archive size). Last line:
// {"bench":"response","round_trip_p50_ms":…,"round_trip_p99_ms":…,"triage_mb_per_s":…,"rss_growth_mb":…}
//   npm run bench:response -- [--commands 200] [--triage-mb 128]

import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { Agent } from '../src/agent/agent.ts';
import { ResponseExecutor } from '../src/agent/response/executor.ts';
import type { Sensor } from '../src/agent/sensor.ts';
import { splitHostPort, startEmbeddedServer } from '../src/server/embedded.ts';

const { values } = parseArgs({ options: { commands: { type: 'string', default: '200' }, 'triage-mb': { type: 'string', default: '128' } } });
const COMMANDS = Number(values.commands);
const TRIAGE_MB = Number(values['triage-mb']);
const log = pino({ level: 'silent' });
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

const silent: Sensor = { mode: 'proc', start: async () => {}, stop: async () => {}, health: () => ({ mode: 'proc', drops: 0, restarts: 0 }) };
const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-response-'));
const unlimited = { perMinute: 1_000_000, burst: 1_000_000 };
const server = await startEmbeddedServer({
  dataDir: dir, http: '127.0.0.1:0', grpc: '127.0.0.1:0', log, security: { rateLimits: { perUser: unlimited, perTenant: unlimited } },
});
const key = readFileSync(server.adminKeyPath, 'utf8').trim();
const executor = new ResponseExecutor({ dataDir: join(dir, 'agent'), log, management: splitHostPort(server.grpcAddress) });
const agent = new Agent({
  ...executor.agentOptions(), dataDir: join(dir, 'agent'), server: server.grpcAddress, caPem: server.caPem, log,
  enrollmentToken: await server.createEnrollmentToken(), sensor: silent,
});
executor.attach(agent);
await agent.start();
while (!agent.connected) await new Promise((r) => setTimeout(r, 20));

async function api(path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${server.httpUrl}/api/v1${path}`, {
    method: body ? 'POST' : 'GET', body: body ? JSON.stringify(body) : undefined,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
  });
  return res.json();
}

async function run(action: string, body: unknown): Promise<any> {
  const { id } = await api(`/hosts/${agent.agentId}/${action}`, body);
  for (;;) {
    const a = await api(`/ir/actions/${id}`);
    if (a.status === 'succeeded' || a.status === 'failed') return a;
    await new Promise((r) => setTimeout(r, 1));
  }
}

const times: number[] = [];
for (let i = 0; i < COMMANDS; i++) {
  const t0 = performance.now();
  const a = await run('list-processes', { limit: 1 });
  if (a.status !== 'succeeded') throw new Error(a.error);
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
console.log(`round trip of ${COMMANDS} commands: p50 ${percentile(times, 0.5).toFixed(1)} ms, p99 ${percentile(times, 0.99).toFixed(1)} ms`);

const input = join(dir, 'triage-input');
writeFileSync(input, randomBytes(TRIAGE_MB * 1048576));
let peakRss = process.memoryUsage.rss();
const rssBefore = peakRss;
const sampler = setInterval(() => { peakRss = Math.max(peakRss, process.memoryUsage.rss()); }, 20);
const t0 = performance.now();
const triage = await run('collect', { paths: [input], artifact: 'bench', max_size_mb: TRIAGE_MB + 1, reason: 'bench' });
const seconds = (performance.now() - t0) / 1000;
clearInterval(sampler);
if (triage.status !== 'succeeded') throw new Error(triage.error);
const mbPerS = triage.result.archive_bytes / 1048576 / seconds;
const rssGrowthMb = (peakRss - rssBefore) / 1048576;
console.log(`triage of ${TRIAGE_MB} MiB (incompressible): ${seconds.toFixed(2)} s, ${mbPerS.toFixed(1)} MiB/s archived and uploaded, peak RSS growth ${rssGrowthMb.toFixed(1)} MiB`);

await agent.stop();
await server.stop();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({
  bench: 'response', round_trip_p50_ms: +percentile(times, 0.5).toFixed(2), round_trip_p99_ms: +percentile(times, 0.99).toFixed(2),
  triage_mb_per_s: +mbPerS.toFixed(1), rss_growth_mb: +rssGrowthMb.toFixed(1),
}));
