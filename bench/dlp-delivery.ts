// bench:dlp-delivery — a data set's delivery to an agent (docs/dlp.md, "Delivery"): 1,000,000 fingerprints
// (250,000 synthetic customer rows × name, email, ssn, card) serialised as the server stores them, cut into pieces
// by the server's DatasetDelivery and received by the agent's AgentDatasets (verified, written to its directory,
// loaded), then read again from that directory as after a restart. Reports the set's size and bytes per
// fingerprint, the pieces, the time to receive and load, and the agent's memory for the loaded set (array buffers
// after a collection, measured in a process of its own; the peak while the set is received and loaded: the receive
// buffer and the loaded copy). Last line: one JSON object.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { AgentDatasets } from '../src/agent/dlp/datasets.ts';
import { buildRecordSet } from '../src/dlp/edm.ts';
import { Fingerprinter } from '../src/dlp/fingerprint.ts';
import { DATASET_CHUNK_BYTES, DatasetDelivery, sha256 } from '../src/server/dlp-delivery.ts';
import { SYNTHETIC_COLUMNS, syntheticRow } from '../test/fixtures/dlp/synthetic.ts';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => { throw new Error('run with --expose-gc'); });
const mib = (n: number) => Math.round((n / 2 ** 20) * 100) / 100;
const ROWS = 250_000;
const types = { name: 'name', email: 'email', ssn: 'digits', card: 'card' } as const;

const { values: opts } = parseArgs({ options: { receive: { type: 'string' } } });
if (!opts.receive) {
  // The server's side: the set built and serialised (as stored), handed to a fresh process that plays the agent.
  const fp = await Fingerprinter.create(new Uint8Array(32).fill(0x5a));
  function* rows(): Generator<string[]> { for (let i = 0; i < ROWS; i++) yield syntheticRow(i); }
  const dir = mkdtempSync(join(tmpdir(), 'vigil-bench-dlp-delivery-'));
  const file = join(dir, 'set.bin');
  writeFileSync(file, buildRecordSet(fp, 'customers', 'bench', SYNTHETIC_COLUMNS.map((name, index) => ({ index, column: { name, type: types[name] } })), rows()).serialise());
  try {
    execFileSync(process.execPath, ['--expose-gc', import.meta.filename, '--receive', file], { stdio: 'inherit' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.exit(0);
}

// The agent's process: the stored bytes (what the server holds, left out of the agent's figures) cut into pieces
// by the server's DatasetDelivery and received, verified, written and loaded by the agent's AgentDatasets.
let blob: Uint8Array | undefined = new Uint8Array(readFileSync(opts.receive));
const bytes = blob.length;
const version = sha256(blob);
const server = new DatasetDelivery({
  list: async () => [{ id: 'ds1', name: 'customers' }], fingerprintSet: async () => blob, tenantKey: async () => new Uint8Array(32),
});
const { datasets: [ref] } = await server.resolve('t', { dlp: { datasets: ['customers'] } });
gc(); gc();
const base = process.memoryUsage();
const dir = join(opts.receive, '..', 'agent');
let peak = 0;
const agent = new AgentDatasets({ dir, log: pino({ level: 'silent' }), request: () => true, changed: () => { peak = process.memoryUsage().arrayBuffers; } });
agent.want([ref!], undefined);
let pieces = 0;
const receiveStart = performance.now();
await server.chunks('t', { id: 'ds1', version }, (c) => { pieces++; agent.onChunk(c); });
const receiveMs = performance.now() - receiveStart;
blob = undefined;
gc(); gc();
const loaded = process.memoryUsage();
const set = agent.set(version)!;

const again = new AgentDatasets({ dir, log: pino({ level: 'silent' }), request: () => { throw new Error('not held'); }, changed: () => {} });
const reloadStart = performance.now();
again.want([ref!], undefined);
const reloadMs = performance.now() - reloadStart;

console.log(JSON.stringify({
  bench: 'dlp-delivery', fingerprints: set.size, set_bytes: bytes, bytes_per_fingerprint: Math.round((bytes / set.size) * 100) / 100,
  pieces, piece_max_bytes: DATASET_CHUNK_BYTES, receive_verify_load_ms: Math.round(receiveMs), reload_from_disk_ms: Math.round(reloadMs),
  agent_set_mb: mib(set.bytes), agent_array_buffers_mb: mib(loaded.arrayBuffers - (base.arrayBuffers - bytes)), agent_peak_array_buffers_mb: mib(peak - base.arrayBuffers),
}));
