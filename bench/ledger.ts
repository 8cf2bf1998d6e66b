// Ledger append throughput: concurrent writers append audit events for a fixed time while the ledger issues a
// signed checkpoint every second (the goal: >= 5,000 appends/s). `benchLedger` is called by the API
// benchmark (bench/api.ts); run alone it benchmarks a fresh SQLite ledger in a temporary data directory (or
// PostgreSQL with --postgres URL) and prints one JSON object on its last line:
//   {"bench":"ledger","appends_per_s":…,"appends":…,"seconds":…,"checkpoints":…,"store":"sqlite"}
//   npx node bench/ledger.ts [--seconds 5] [--concurrency 256] [--postgres URL]

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Ledger } from '../src/ledger/ledger.ts';
import { openLedger } from '../src/stores/ledger/open.ts';

export interface LedgerBenchOptions {
  seconds?: number;
  /** Concurrent writers, each awaiting its append before the next (like concurrent API requests). */
  concurrency?: number;
  /** PostgreSQL connection string; default a SQLite ledger in a temporary data directory. */
  postgres?: string;
}

export interface LedgerBenchResult {
  bench: 'ledger';
  appends_per_s: number;
  appends: number;
  seconds: number;
  /** Signed checkpoints issued while appending (one a second expected). */
  checkpoints: number;
  store: 'sqlite' | 'postgres';
}

async function writer(ledger: Ledger, id: number, until: number): Promise<number> {
  let n = 0;
  while (performance.now() < until) {
    await ledger.append({
      actor: `user:bench-${id}`, tenant_id: `tenant-${id % 8}`, action: 'bench.append', target: `object-${n}`,
      outcome: 'success', request_id: `req-${id}-${n}`, details: { n },
    });
    n++;
  }
  return n;
}

/** Appends from `concurrency` writers for `seconds` into `ledger` (which should checkpoint every second). */
export async function measureAppends(ledger: Ledger, seconds: number, concurrency: number): Promise<{ appends: number; seconds: number }> {
  const start = performance.now();
  const counts = await Promise.all(Array.from({ length: concurrency }, (_, i) => writer(ledger, i, start + seconds * 1000)));
  const elapsed = (performance.now() - start) / 1000;
  return { appends: counts.reduce((a, b) => a + b, 0), seconds: elapsed };
}

/** Benchmarks a fresh ledger with a checkpoint every second; removes it afterwards (SQLite). */
export async function benchLedger(opts: LedgerBenchOptions = {}): Promise<LedgerBenchResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-ledger-bench-'));
  try {
    const postgres = opts.postgres ? { connectionString: opts.postgres } : undefined;
    const ledger = await openLedger({ dataDir, postgres, checkpointIntervalMs: 1000 });
    // Counts the distinct signed checkpoints seen while appending (sampled faster than they are issued).
    let seen = ledger.latestCheckpoint()?.size;
    let checkpoints = 0;
    const counter = setInterval(() => {
      const size = ledger.latestCheckpoint()?.size;
      if (size !== seen) [seen, checkpoints] = [size, checkpoints + 1];
    }, 100);
    const { appends, seconds } = await measureAppends(ledger, opts.seconds ?? 5, opts.concurrency ?? 256);
    clearInterval(counter);
    await ledger.close();
    return {
      bench: 'ledger', appends_per_s: Math.round(appends / seconds), appends, seconds: Number(seconds.toFixed(2)),
      checkpoints, store: postgres ? 'postgres' : 'sqlite',
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '5' }, concurrency: { type: 'string', default: '256' }, postgres: { type: 'string' } },
  });
  const result = await benchLedger({ seconds: Number(values.seconds), concurrency: Number(values.concurrency), postgres: values.postgres });
  console.log(JSON.stringify(result));
}
