// The on-disk spool (ARCHITECTURE principle 3, "Nothing lost"): a bounded, durable queue of encoded
// batches kept until they are acknowledged, across restarts and outages. The agent keeps its event
// batches here until the server acknowledges them; the embedded server's bus (src/bus/local-log.ts)
// keeps ingested batches here until the pipeline has stored them.
//
// Layout of the directory:
//   seg-<first seq, 16 digits>.log  append-only segments of records:
//                                   [u32 payload length][u32 crc32(seq ‖ payload)][u64 seq][payload]
//   state                           [u32 magic][u32 crc32][u64 floor][u64 dropped][u64 corrupt]
// `floor` is the highest sequence number that is gone (acknowledged, or dropped for space): acks
// are CUMULATIVE, ack(n) releases every batch ≤ n. Sequence numbers grow by one per batch and are
// never reused, also across restarts (the state is made durable before any segment is deleted).
// Durability: append() resolves only after the record is written and fdatasync'ed; appends made in the
// same turn of the event loop (every I/O callback of one poll) are written and synced together (group
// commit). Writes and syncs are synchronous calls on the owning thread, not libuv thread-pool jobs: an
// acknowledgement then never waits in the pool's queue behind unrelated work (ClickHouse inserts run
// there in the embedded server), and the calls arriving meanwhile wait in the socket and form the next
// group. With
// `syncIntervalMs`, append() resolves once the record is written (it then survives the process, not the
// machine) and the segment is fdatasync'ed within that interval of its first unsynced write, before a
// segment is closed and at close().
// Bound: when the segments would exceed maxBytes, whole oldest segments are dropped and their
// unacknowledged batches counted in `dropped`. A torn or corrupt record (crc, length or sequence
// mismatch) found at open is cut off with everything after it in that segment and counted in
// `corrupt`; the spool opens anyway.

import {
  closeSync,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  truncateSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';

export interface SpoolOptions {
  maxBytes?: number; // default 256 MiB
  segmentBytes?: number; // default min(16 MiB, maxBytes / 4)
  /** Called after each group commit with its write + fdatasync time (the floor of an append's latency). */
  onCommit?: (seconds: number) => void;
  /**
   * 0 (default): every group commit is fdatasync'ed before its appends resolve. N > 0: appends resolve
   * once written, and written records are fdatasync'ed within N ms (for the agent: one sync a second
   * instead of one per batch, each a device cache flush that costs the agent more CPU than the batch).
   */
  syncIntervalMs?: number;
}

export interface SpoolStats {
  nextSeq: number;
  ackedSeq: number; // the floor: every batch ≤ this is acknowledged or dropped
  unacked: number;
  bytes: number;
  segments: number;
  dropped: number; // batches dropped because the spool was full (since the spool was created)
  corrupt: number; // corrupt or torn records cut off at open
  syncs: number; // fdatasyncs of segments since the spool was opened
  syncErrors: number; // lazy syncs that failed (and were tried again) since the spool was opened
}

export interface SpooledBatch {
  seq: number;
  batch: Uint8Array;
}

export const DEFAULT_SPOOL_BYTES = 256 * 1024 * 1024;
const HEADER = 16;
const STATE_MAGIC = 0x5650_4c31; // "VPL1"
const STATE_BYTES = 32;
const SEGMENT_NAME = /^seg-(\d{16})\.log$/;

interface Segment {
  path: string;
  firstSeq: number;
  lastSeq: number; // firstSeq - 1 while empty
  size: number; // bytes written (synced unless syncIntervalMs)
}

interface PendingAppend {
  seq: number;
  header: Buffer;
  payload: Uint8Array;
  resolve(seq: number): void;
  reject(e: unknown): void;
}

export class Spool {
  readonly dir: string;
  readonly maxBytes: number;
  readonly segmentBytes: number;
  #segments: Segment[] = [];
  #active = -1; // fd of the newest segment
  #stateFd: number;
  #floor = 0;
  #dropped = 0;
  #corrupt = 0;
  #nextSeq = 1;
  #queue: PendingAppend[] = [];
  #flushScheduled = false;
  #closed = false;
  readonly #onCommit: ((seconds: number) => void) | undefined;
  readonly #syncIntervalMs: number;
  #unsynced = false; // the active segment has written records not yet fdatasync'ed (syncIntervalMs > 0)
  #syncTimer: NodeJS.Timeout | undefined;
  #syncs = 0;
  #syncErrors = 0;

  private constructor(dir: string, opts: SpoolOptions) {
    this.dir = dir;
    this.maxBytes = opts.maxBytes ?? DEFAULT_SPOOL_BYTES;
    this.segmentBytes = opts.segmentBytes ?? Math.min(16 * 1024 * 1024, Math.floor(this.maxBytes / 4));
    this.#onCommit = opts.onCommit;
    this.#syncIntervalMs = opts.syncIntervalMs ?? 0;
    mkdirSync(dir, { recursive: true });
    this.#stateFd = openForUpdate(join(dir, 'state'));
  }

  /** Open (or create) the spool in `dir`, recovering from a crash if needed. */
  static async open(dir: string, opts: SpoolOptions = {}): Promise<Spool> {
    const s = new Spool(dir, opts);
    s.#readState();
    s.#recoverSegments();
    s.#openActive();
    return s;
  }

  /**
   * Append one encoded batch; resolves with its sequence number once it is durable. The bytes are
   * written without copying: do not modify `batch` until the promise settles.
   */
  append(batch: Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new Error('spool is closed'));
    if (batch.length + HEADER > this.maxBytes / 2) {
      return Promise.reject(new RangeError(`batch of ${batch.length} bytes exceeds the spool's bound`));
    }
    const seq = this.#nextSeq++;
    return new Promise((resolve, reject) => {
      this.#queue.push({ seq, header: recordHeader(seq, batch), payload: batch, resolve, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  /** Acknowledge every batch with a sequence number ≤ seq (cumulative). */
  ack(seq: number): void {
    const durableLast = this.#segments.at(-1)!.lastSeq;
    const floor = Math.min(seq, durableLast);
    if (floor <= this.#floor) return;
    this.#floor = floor;
    this.#writeState(false);
    this.#deleteReleasedSegments();
  }

  /** Durable, unacknowledged batches in sequence order (read from disk). */
  *unacked(): Generator<SpooledBatch> {
    for (const seg of [...this.#segments]) {
      if (seg.lastSeq <= this.#floor) continue;
      let data: Buffer;
      try {
        data = readFileSync(seg.path).subarray(0, seg.size);
      } catch {
        continue; // deleted (acknowledged or dropped) since the iteration started
      }
      for (const rec of records(data)) {
        if (rec.seq > this.#floor) yield { seq: rec.seq, batch: rec.payload };
      }
    }
  }

  stats(): SpoolStats {
    const last = this.#segments.at(-1)!.lastSeq;
    return {
      nextSeq: this.#nextSeq,
      ackedSeq: this.#floor,
      unacked: Math.max(0, last - this.#floor),
      bytes: this.#segments.reduce((n, s) => n + s.size, 0),
      segments: this.#segments.length,
      dropped: this.#dropped,
      corrupt: this.#corrupt,
      syncs: this.#syncs,
      syncErrors: this.#syncErrors,
    };
  }

  /** Wait for pending appends, then close the files. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#flush();
    clearTimeout(this.#syncTimer);
    this.#syncActive();
    closeSync(this.#active);
    this.#writeState(true);
    closeSync(this.#stateFd);
  }

  /** Writes (and, without syncIntervalMs, syncs) every queued append as one group, then settles them. */
  #flush(): void {
    this.#flushScheduled = false;
    const group = this.#queue;
    if (group.length === 0) return;
    this.#queue = [];
    try {
      this.#writeGroup(group);
      for (const p of group) p.resolve(p.seq);
    } catch (e) {
      for (const p of group) p.reject(e);
    }
  }

  #writeGroup(group: PendingAppend[]): void {
    let chunk: Buffer[] = [];
    let chunkBytes = 0;
    let chunkLast = 0;
    const commit = () => {
      if (chunk.length === 0) return;
      const seg = this.#segments.at(-1)!;
      const started = performance.now();
      writeFully(this.#active, chunk, chunkBytes, seg.size);
      if (this.#syncIntervalMs > 0) this.#markUnsynced();
      else this.#datasync();
      this.#onCommit?.((performance.now() - started) / 1000);
      seg.size += chunkBytes;
      seg.lastSeq = chunkLast;
      chunk = [];
      chunkBytes = 0;
    };
    for (const p of group) {
      const bytes = HEADER + p.payload.length;
      const seg = this.#segments.at(-1)!;
      if (seg.size + chunkBytes > 0 && seg.size + chunkBytes + bytes > this.segmentBytes) {
        commit();
        this.#roll(p.seq);
      }
      this.#makeRoom(chunkBytes + bytes);
      chunk.push(p.header, Buffer.from(p.payload.buffer, p.payload.byteOffset, p.payload.length));
      chunkBytes += bytes;
      chunkLast = p.seq;
    }
    commit();
  }

  #datasync(): void {
    fdatasyncSync(this.#active);
    this.#syncs++;
  }

  /** Lazy sync: the first unsynced write arms a timer that syncs the active segment. */
  #markUnsynced(): void {
    if (this.#unsynced) return;
    this.#unsynced = true;
    this.#armSyncTimer();
  }

  #armSyncTimer(): void {
    this.#syncTimer = setTimeout(() => this.#syncOnTimer(), this.#syncIntervalMs);
    this.#syncTimer.unref();
  }

  /** The lazy sync's timer: a sync that fails (the disk) is counted and tried again an interval later. */
  #syncOnTimer(): void {
    try {
      this.#syncActive();
    } catch {
      this.#syncErrors++;
      this.#armSyncTimer();
    }
  }

  /** Syncs the active segment if it has unsynced writes (lazy sync); on the timer, before a roll and at close. */
  #syncActive(): void {
    if (!this.#unsynced) return;
    clearTimeout(this.#syncTimer);
    this.#datasync();
    this.#unsynced = false;
  }

  /** Drop whole oldest segments (not the active one) until `incoming` more bytes fit. */
  #makeRoom(incoming: number): void {
    let total = this.#segments.reduce((n, s) => n + s.size, 0);
    const victims: Segment[] = [];
    while (total + incoming > this.maxBytes && this.#segments.length - victims.length > 1) {
      const seg = this.#segments[victims.length];
      victims.push(seg);
      total -= seg.size;
      this.#dropped += Math.max(0, seg.lastSeq - Math.max(this.#floor, seg.firstSeq - 1));
      this.#floor = Math.max(this.#floor, seg.lastSeq);
    }
    if (victims.length === 0) return;
    this.#writeState(true);
    for (const seg of victims) rmSync(seg.path, { force: true });
    this.#segments.splice(0, victims.length);
  }

  #roll(firstSeq: number): void {
    this.#syncActive();
    closeSync(this.#active);
    this.#segments.push(newSegment(this.dir, firstSeq));
    this.#openActive();
    this.#deleteReleasedSegments();
  }

  #openActive(): void {
    if (this.#segments.length === 0) this.#segments.push(newSegment(this.dir, this.#nextSeq));
    this.#active = openForUpdate(this.#segments.at(-1)!.path);
    syncDir(this.dir);
  }

  /**
   * Delete segments whose batches are all acknowledged, except the active one. The files go in the background
   * (unlinking a full segment took ≈ 7 ms on the test VM, a stall for the thread that acknowledges agents): the
   * durable floor already releases them, and a file left by a crash or a failed unlink is removed at the next open.
   */
  #deleteReleasedSegments(): void {
    let n = 0;
    while (n < this.#segments.length - 1 && this.#segments[n].lastSeq <= this.#floor) n++;
    if (n === 0) return;
    this.#writeState(true);
    for (const seg of this.#segments.splice(0, n)) rm(seg.path, { force: true }).catch(() => {});
  }

  #readState(): void {
    const buf = Buffer.alloc(STATE_BYTES);
    const n = readSync(this.#stateFd, buf, 0, STATE_BYTES, 0);
    if (n === 0) return;
    if (n < STATE_BYTES || buf.readUInt32LE(0) !== STATE_MAGIC || buf.readUInt32LE(4) !== crc32(buf.subarray(8))) {
      this.#corrupt++;
      return;
    }
    this.#floor = Number(buf.readBigUInt64LE(8));
    this.#dropped = Number(buf.readBigUInt64LE(16));
    this.#corrupt = Number(buf.readBigUInt64LE(24));
  }

  /** Write the state in place; `durable` syncs it (needed before a segment file is deleted). */
  #writeState(durable: boolean): void {
    const buf = Buffer.alloc(STATE_BYTES);
    buf.writeUInt32LE(STATE_MAGIC, 0);
    buf.writeBigUInt64LE(BigInt(this.#floor), 8);
    buf.writeBigUInt64LE(BigInt(this.#dropped), 16);
    buf.writeBigUInt64LE(BigInt(this.#corrupt), 24);
    buf.writeUInt32LE(crc32(buf.subarray(8)), 4);
    writeSync(this.#stateFd, buf, 0, STATE_BYTES, 0);
    if (durable) fdatasyncSync(this.#stateFd);
  }

  /** Scan the segments, cut off corrupt tails, forget fully acknowledged segments. */
  #recoverSegments(): void {
    const found = readdirSync(this.dir)
      .map((name) => SEGMENT_NAME.exec(name))
      .filter((m) => m !== null)
      .map((m) => ({ path: join(this.dir, m[0]), firstSeq: Number(m[1]) }))
      .sort((a, b) => a.firstSeq - b.firstSeq);
    let lastSeq = this.#floor;
    for (const f of found) {
      const seg = this.#scanSegment(f.path, f.firstSeq);
      if (seg.size === 0 || seg.lastSeq <= this.#floor) {
        rmSync(seg.path, { force: true });
        continue;
      }
      lastSeq = Math.max(lastSeq, seg.lastSeq);
      this.#segments.push(seg);
    }
    this.#nextSeq = lastSeq + 1;
    this.#writeState(true);
  }

  #scanSegment(path: string, firstSeq: number): Segment {
    const data = readFileSync(path);
    const seg: Segment = { path, firstSeq, lastSeq: firstSeq - 1, size: 0 };
    for (const rec of records(data)) {
      if (rec.seq <= seg.lastSeq) break; // sequence must grow: anything else is damage
      seg.lastSeq = rec.seq;
      seg.size = rec.end;
    }
    if (seg.size < data.length) {
      this.#corrupt++;
      truncateSync(path, seg.size);
    }
    return seg;
  }
}

function newSegment(dir: string, firstSeq: number): Segment {
  return { path: join(dir, `seg-${String(firstSeq).padStart(16, '0')}.log`), firstSeq, lastSeq: firstSeq - 1, size: 0 };
}

function recordHeader(seq: number, payload: Uint8Array): Buffer {
  const h = Buffer.allocUnsafe(HEADER);
  h.writeUInt32LE(payload.length, 0);
  h.writeBigUInt64LE(BigInt(seq), 8);
  h.writeUInt32LE(crc32(payload, crc32(h.subarray(8))), 4);
  return h;
}

/** Valid records of a segment's bytes, in order, stopping at the first damaged one. */
function* records(data: Buffer): Generator<{ seq: number; payload: Buffer; end: number }> {
  let off = 0;
  while (off + HEADER <= data.length) {
    const len = data.readUInt32LE(off);
    const end = off + HEADER + len;
    if (end > data.length) return;
    const payload = data.subarray(off + HEADER, end);
    if (data.readUInt32LE(off + 4) !== crc32(payload, crc32(data.subarray(off + 8, off + HEADER)))) return;
    yield { seq: Number(data.readBigUInt64LE(off + 8)), payload, end };
    off = end;
  }
}

/** Writes `chunks` (`bytes` in all) at `position`, continuing after short writes. */
function writeFully(fd: number, chunks: Buffer[], bytes: number, position: number): void {
  let written = writevSync(fd, chunks, position);
  if (written === bytes) return;
  const all = Buffer.concat(chunks);
  while (written < bytes) written += writeSync(fd, all, written, bytes - written, position + written);
}

/** Open read-write without O_APPEND (positional writes must land where they are aimed). */
function openForUpdate(path: string): number {
  try {
    return openSync(path, 'r+');
  } catch {
    return openSync(path, 'w+');
  }
}

function syncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
