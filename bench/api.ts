// bench:api — load on the main read endpoints of a real `vigil up` server process over loopback (hosts, events, process
// tree, alerts) at a fixed request rate with a bounded number in flight while ingest goes on at 1,000 events/s,
// then ledger appends on a SQLite ledger with a checkpoint every second. Prints p50/p95/p99 and requests/s;
// the last line is
// {"bench":"api","p95_ms":…,"rps":…,"ledger_appends_per_s":…}.
//   npm run bench:api -- [--rate 500] [--seconds 10] [--ledger-seconds 3]
// The per-user rate limit (1,000/min) would refuse a single client at 500/s, so the bench raises it.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SimulatedAgent } from '../src/agent/simulator.ts';
import { startVigil } from '../test/support/vigil-process.ts';
import { benchLedger } from './ledger.ts';

const { values } = parseArgs({ options: {
  rate: { type: 'string', default: '500' }, seconds: { type: 'string', default: '10' }, 'ledger-seconds': { type: 'string', default: '3' },
} });
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const MAX_IN_FLIGHT = 256;

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;

const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-api-'));
// The server runs as its own process, as in production; the one client raises the per-user limit (1,000/min).
const server = await startVigil(['up', '--no-agent', '--data-dir', dir, '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0',
  '--rate-limit-user', '100000000', '--rate-limit-tenant', '100000000'], dir);
try {
  const key = server.apiKey;
  const tokenRes = await fetch(`${server.apiUrl}/api/v1/enrollment-tokens`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: '{}',
  });
  const { token } = await tokenRes.json() as { token: string };
  const agent = await SimulatedAgent.enroll(server.grpcAddress, readFileSync(join(dir, 'pki', 'ca.pem'), 'utf8'), token, 'bench-host');
  agent.connect();
  // 10,000 processes started; all but the last 200 also exit, so the live tree is a host's usual size.
  for (let i = 0; i < 20; i++) {
    const starts = agent.syntheticEvents(500);
    await agent.send(i < 19 ? [...starts, ...agent.syntheticExits(starts)] : [...starts.slice(0, 200), ...agent.syntheticExits(starts.slice(200))]);
  }
  const host = agent.identity.agentId;
  const paths = ['/api/v1/hosts', '/api/v1/events?limit=100', `/api/v1/hosts/${host}/process-tree`, '/api/v1/alerts?limit=100'];

  const latencies: number[] = [];
  let errors = 0;
  let dropped = 0;
  let inFlight = 0;
  const one = async (path: string) => {
    inFlight++;
    const t = performance.now();
    try {
      const res = await fetch(`${server.apiUrl}${path}`, { headers: { authorization: `Bearer ${key}` } });
      await res.arrayBuffer();
      if (res.status !== 200) errors++;
      latencies.push(performance.now() - t);
    } catch {
      errors++;
    } finally {
      inFlight--;
    }
  };
  // Ingest keeps running during the reads (1,000 events/s in batches of 100), as on a live server: the store
  // keeps changing, so searches cannot all be answered from the result cache.
  let ingesting = true;
  let ingested = 0;
  const ingest = (async () => {
    while (ingesting) {
      const starts = agent.syntheticEvents(50);
      await agent.send([...starts, ...agent.syntheticExits(starts)]);
      ingested += 100;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < RATE * SECONDS; i++) {
    const due = started + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (inFlight >= MAX_IN_FLIGHT) dropped++;
    else pending.push(one(paths[i % paths.length]));
  }
  await Promise.all(pending);
  ingesting = false;
  await ingest;
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const rps = latencies.length / elapsed;
  const [p50, p95, p99] = [0.5, 0.95, 0.99].map((p) => percentile(latencies, p));
  console.log(`api: ${latencies.length} requests in ${elapsed.toFixed(1)} s at target ${RATE}/s: ${rps.toFixed(0)} req/s, p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, ${errors} errors, ${dropped} not sent (>${MAX_IN_FLIGHT} in flight), ${ingested} events ingested meanwhile`);

  const ledger = await benchLedger({ seconds: Number(values['ledger-seconds']), concurrency: 256 });
  const ledgerRate = ledger.appends_per_s;
  console.log(`ledger: ${ledger.appends} appends in ${ledger.seconds.toFixed(1)} s (${ledgerRate.toFixed(0)}/s) on a SQLite ledger, ${ledger.checkpoints} signed checkpoints (one a second)`);
  agent.close();
  console.log(JSON.stringify({ bench: 'api', p95_ms: Number(p95.toFixed(2)), rps: Number(rps.toFixed(1)), ledger_appends_per_s: Math.round(ledgerRate) }));
} finally {
  await server.stop('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
