// Executable hashing on the agent (issue 22): SHA-256, SHA-1 and MD5 of every executed file, with its size,
// inode, device and mtime, computed once per (device, inode, mtime, size) and kept in a bounded LRU cache. Off
// the event path: a lookup is one Map read; a miss is queued (bounded: past it the request is dropped and
// counted) and hashed by one reader at a time, in 256 KiB chunks (each ≈ 0.7 ms of the event loop for the three
// digests on this VM), paced by a byte budget (bytes per second) and skipping files above a size bound, so
// hashing costs at most a known share of a core and of the disk, and never holds an event back.
// The file read is checked against the identity the kernel gave at exec (eBPF sensor): the running process's
// own image (/proc/<pid>/exe, which also reaches into containers and deleted files) first, then the path; a
// file that differs (replaced or modified since the exec, or during the read) is not hashed ('changed').

import { createHash, type Hash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { ExecutableFile, ExecutableHash, Observation } from '../sensor.ts';

export interface HashingSettings {
  enabled: boolean;
  /** Bytes read and hashed per second at most (the I/O and CPU budget). */
  bytesPerSecond: number;
  /** Larger executables are not hashed ('too_large'); their size, inode and mtime are still reported. */
  maxFileBytes: number;
}

export const DEFAULT_HASHING: HashingSettings = { enabled: true, bytesPerSecond: 8 * 1024 * 1024, maxFileBytes: 64 * 1024 * 1024 };
export const HASH_ALGORITHMS = ['sha256', 'sha1', 'md5'] as const;

export type HashOutcome = 'hashed' | 'too_large' | 'unreadable' | 'changed';

export interface HashResult {
  outcome: HashOutcome;
  /** The file as read (the kernel's identity when the read could not be checked against it). */
  file: ExecutableFile;
  hash?: ExecutableHash;
}

export interface HashRequest {
  path: string;
  pid: number;
  /** The identity of the executed file (from the kernel); without it, the file at `path` is taken as it is. */
  file?: ExecutableFile;
}

export interface HasherCounters {
  hashed: number; cacheHits: number; queueDrops: number; tooLarge: number; unreadable: number; changed: number; bytesRead: number;
}

const CHUNK_BYTES = 256 * 1024;
const DEFAULT_CACHE_ENTRIES = 4096;
const DEFAULT_QUEUE = 1024;

export function identityKey(f: ExecutableFile): string {
  return `${f.device}:${f.inode}:${f.mtimeNs}:${f.size}`;
}

function sameFile(a: ExecutableFile, b: ExecutableFile): boolean {
  return a.device === b.device && a.inode === b.inode && a.size === b.size && a.mtimeNs === b.mtimeNs;
}

async function identityOf(fh: FileHandle): Promise<ExecutableFile> {
  const st = await fh.stat({ bigint: true });
  return { device: Number(st.dev), inode: Number(st.ino), size: Number(st.size), mtimeNs: st.mtimeNs };
}

interface Queued { key: string; req: HashRequest }

export class ExecutableHasher {
  readonly counters: HasherCounters = { hashed: 0, cacheHits: 0, queueDrops: 0, tooLarge: 0, unreadable: 0, changed: 0, bytesRead: 0 };
  #settings: HashingSettings;
  readonly #cacheEntries: number;
  readonly #maxQueue: number;
  readonly #cache = new Map<string, HashResult>(); // insertion order = least recently used first
  readonly #waiting = new Map<string, ((r: HashResult) => void)[]>(); // queued or being hashed, by key
  #queue: Queued[] = [];
  #running = false;
  #tokens = CHUNK_BYTES;
  #refilledAt = performance.now();
  readonly #chunk = Buffer.allocUnsafeSlow(CHUNK_BYTES);

  constructor(settings: HashingSettings = DEFAULT_HASHING, opts: { cacheEntries?: number; maxQueue?: number } = {}) {
    this.#settings = settings;
    this.#cacheEntries = Math.max(1, opts.cacheEntries ?? DEFAULT_CACHE_ENTRIES);
    this.#maxQueue = Math.max(1, opts.maxQueue ?? DEFAULT_QUEUE);
  }

  get settings(): HashingSettings {
    return this.#settings;
  }

  /** New budget and bounds (a policy changed); what is queued is hashed under them. */
  configure(settings: HashingSettings): void {
    this.#settings = settings;
  }

  get queued(): number {
    return this.#queue.length;
  }

  /** The cached result for this file, if it was hashed (or refused) before. */
  lookup(file: ExecutableFile): HashResult | undefined {
    const key = identityKey(file);
    const known = this.#cache.get(key);
    if (known) {
      this.#cache.delete(key);
      this.#cache.set(key, known);
      this.counters.cacheHits++;
    }
    return known;
  }

  /**
   * Hashes the file when its turn comes and calls `done` with the result (several requests for one file share
   * one read). A request without the file's identity is looked up in the cache once the file is opened. False
   * when hashing is off or the queue is full (then nothing is called).
   */
  request(req: HashRequest, done: (r: HashResult) => void): boolean {
    if (!this.#settings.enabled) return false;
    const key = req.file ? identityKey(req.file) : `path:${req.pid}:${req.path}`;
    const waiting = this.#waiting.get(key);
    if (waiting) {
      waiting.push(done);
      return true;
    }
    if (this.#queue.length >= this.#maxQueue) {
      this.counters.queueDrops++;
      return false;
    }
    this.#waiting.set(key, [done]);
    this.#queue.push({ key, req });
    if (!this.#running) void this.#drain();
    return true;
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      for (let next = this.#queue.shift(); next; next = this.#queue.shift()) {
        const result = await this.#hash(next.req);
        const waiters = this.#waiting.get(next.key) ?? [];
        this.#waiting.delete(next.key);
        for (const done of waiters) done(result);
      }
    } finally {
      this.#running = false;
    }
  }

  async #hash(req: HashRequest): Promise<HashResult> {
    const candidates = req.file ? [`/proc/${req.pid}/exe`, req.path] : [req.path];
    let fallback: HashResult = { outcome: 'unreadable', file: req.file ?? { device: 0, inode: 0, size: 0, mtimeNs: 0n } };
    for (const path of candidates) {
      let fh: FileHandle | undefined;
      try {
        fh = await open(path, 'r');
        const file = await identityOf(fh);
        if (req.file && !sameFile(file, req.file)) {
          fallback = { outcome: 'changed', file: req.file };
          continue;
        }
        const key = identityKey(file);
        const known = this.#cache.get(key);
        if (known) {
          this.counters.cacheHits++;
          return known;
        }
        return this.#remember(key, await this.#digest(fh, file));
      } catch {
        // gone or not readable by this agent: the next candidate
      } finally {
        await fh?.close().catch(() => undefined);
      }
    }
    if (fallback.outcome === 'changed') this.counters.changed++;
    else this.counters.unreadable++;
    if (req.file) this.#remember(identityKey(req.file), fallback); // that identity will not be readable later either
    return fallback;
  }

  async #digest(fh: FileHandle, file: ExecutableFile): Promise<HashResult> {
    if (file.size > this.#settings.maxFileBytes) {
      this.counters.tooLarge++;
      return { outcome: 'too_large', file };
    }
    const digests: Hash[] = HASH_ALGORITHMS.map((a) => createHash(a));
    for (let at = 0; ;) {
      await this.#budget(CHUNK_BYTES);
      const { bytesRead } = await fh.read(this.#chunk, 0, CHUNK_BYTES, at);
      if (bytesRead === 0) break;
      const part = this.#chunk.subarray(0, bytesRead);
      for (const d of digests) d.update(part);
      at += bytesRead;
      this.counters.bytesRead += bytesRead;
      if (at > file.size) break; // grew while read: caught by the check below
    }
    if (!sameFile(await identityOf(fh), file)) {
      this.counters.changed++;
      return { outcome: 'changed', file };
    }
    this.counters.hashed++;
    const [sha256, sha1, md5] = digests.map((d) => d.digest('hex'));
    // Frozen: every process_start of this file carries this very object, and the batch writer encodes a frozen
    // message once and copies its bytes after (src/schema/batch-writer.ts).
    return { outcome: 'hashed', file, hash: Object.freeze({ sha256, sha1, md5 }) };
  }

  /** Waits until `bytes` fit in the budget (a token bucket of one chunk refilled at bytesPerSecond). */
  async #budget(bytes: number): Promise<void> {
    const rate = Math.max(1, this.#settings.bytesPerSecond);
    const now = performance.now();
    this.#tokens = Math.min(CHUNK_BYTES, this.#tokens + ((now - this.#refilledAt) / 1000) * rate);
    this.#refilledAt = now;
    if (this.#tokens < bytes) {
      const waitMs = ((bytes - this.#tokens) / rate) * 1000;
      await new Promise((r) => setTimeout(r, waitMs));
      this.#tokens = bytes;
      this.#refilledAt = performance.now();
    }
    this.#tokens -= bytes;
  }

  #remember(key: string, result: HashResult): HashResult {
    this.#cache.set(key, result);
    if (this.#cache.size > this.#cacheEntries) this.#cache.delete(this.#cache.keys().next().value!);
    return result;
  }
}

/**
 * The exec side of hashing: an executable hashed before gets its digests on the exec observation itself (set on
 * `obs` before its event is made); any other is queued, and a `process_hash` observation of the same process is
 * emitted once it is hashed (or found not hashable: `hashOutcome` says why).
 */
export function hashExec(hasher: ExecutableHasher, obs: Observation, emit: (o: Observation) => void): void {
  if ((obs.type !== 'process_start' && obs.type !== 'memfd_exec') || obs.executable === undefined || obs.executableFromArgs) return;
  if (!hasher.settings.enabled) return;
  if (obs.executableFile) {
    const known = hasher.lookup(obs.executableFile);
    if (known) {
      if (known.hash) obs.hash = known.hash;
      return;
    }
  }
  const { pid, ppid, startTimeMs, executable } = obs;
  hasher.request({ path: executable, pid, file: obs.executableFile }, (r) => emit({
    type: 'process_hash', timeMs: Date.now(), pid, ppid, startTimeMs, executable, hash: r.hash, hashOutcome: r.outcome,
    executableFile: r.file.inode !== 0 ? r.file : undefined, // an unreadable file without the kernel's identity: nothing known
  }));
}
