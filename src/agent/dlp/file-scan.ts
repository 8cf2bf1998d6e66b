// Reading a file for the DLP scanner, bounded: at most `maxFileBytes` read, in chunks, with a pause between
// chunks that holds the read rate under `bytesPerSecond` and the time spent scanning under `cpuPercent` of the
// elapsed time, and gives the event loop back (the scan never blocks the agent's other work, and reads run at the
// pace the policy allows). Binary files (a NUL in the first 8 KiB) are
// skipped. Used by the agent and by `vigil dlp scan`.

import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContentScanner, ScanFinding } from '../../dlp/scanner.ts';

export interface FileScanLimits {
  maxFileBytes: number;
  /** Read rate cap; 0 = unbounded (the CLI). */
  bytesPerSecond: number;
  /** Share of one core the scanning may use, in percent (100 or absent: unbounded). */
  cpuPercent?: number;
  chunkBytes?: number;
}

export interface FileScanResult {
  findings: ScanFinding[];
  bytes: number;
  /** The file was longer than maxFileBytes: only its beginning was scanned. */
  truncated: boolean;
  skipped?: 'binary';
}

const SNIFF = 8192;

export async function scanFile(path: string, scanner: ContentScanner, limits: FileScanLimits, signal?: AbortSignal): Promise<FileScanResult> {
  const chunk = Buffer.allocUnsafe(limits.chunkBytes ?? 256 * 1024);
  const decoder = new TextDecoder('utf-8');
  const handle = await open(path, 'r');
  let bytes = 0;
  try {
    const started = performance.now();
    let busyMs = 0;
    for (;;) {
      signal?.throwIfAborted();
      const want = Math.min(chunk.length, limits.maxFileBytes - bytes);
      if (want <= 0) break;
      const { bytesRead } = await handle.read(chunk, 0, want, bytes);
      if (bytesRead === 0) break;
      const view = chunk.subarray(0, bytesRead);
      if (bytes === 0 && view.subarray(0, SNIFF).includes(0)) return { findings: [], bytes: 0, truncated: false, skipped: 'binary' };
      bytes += bytesRead;
      const t = performance.now();
      scanner.push(decoder.decode(view, { stream: true }));
      busyMs += performance.now() - t;
      await pace(started, bytes, busyMs, limits);
    }
    const truncated = bytes >= limits.maxFileBytes && (await handle.stat()).size > bytes;
    scanner.push(decoder.decode());
    return { findings: scanner.finish(), bytes, truncated };
  } finally {
    await handle.close();
  }
}

/** Waits until the bytes read and the time spent scanning since `started` are within bounds; always yields. */
async function pace(started: number, bytes: number, busyMs: number, limits: FileScanLimits): Promise<void> {
  const byRate = limits.bytesPerSecond > 0 ? (bytes / limits.bytesPerSecond) * 1000 : 0;
  const byCpu = limits.cpuPercent !== undefined && limits.cpuPercent < 100 ? busyMs * (100 / limits.cpuPercent) : 0;
  await sleep(Math.max(0, started + Math.max(byRate, byCpu) - performance.now()));
}
