// DLP data sets on the agent (docs/dlp.md, "Delivery"): the fingerprint sets the policies name, by version (the
// SHA-256 of the serialised set). A set held in <data-dir>/datasets/<version>.fps (0600) is read and verified from
// there; another is pulled from the server down the agent's stream in pieces, resumed from the bytes held after a
// reconnection, verified against its version and kept. Sets no policy names any more are dropped from memory and
// disk. The tenant's fingerprint key comes with the policies (the agent must hash what it scans with it).

import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { Fingerprinter, FingerprintSet } from '../../dlp/fingerprint.ts';
import type { DatasetChunk, DatasetRef, DatasetRequest } from '../../schema/wire.ts';

export interface AgentDatasetsOptions {
  dir: string;
  log: Logger;
  /** Sends a request up the stream; false when disconnected (asked again when the policies come back). */
  request(req: DatasetRequest): boolean;
  /** A set was loaded or the key changed: the policies are applied (and acknowledged) again. */
  changed(): void;
}

/** A set being received: its bytes are written in place (one buffer of the announced size, no copies). */
interface Download { ref: DatasetRef; blob: Buffer; received: number; asked: boolean }

const VERSION = /^[0-9a-f]{64}$/;
/** Largest set accepted (50 M fingerprints). */
const MAX_SET_BYTES = 512 * 1024 * 1024;

export class AgentDatasets {
  private readonly o: AgentDatasetsOptions;
  private readonly loaded = new Map<string, FingerprintSet>();
  private readonly downloads = new Map<string, Download>();
  private keyHex = '';
  private fingerprinterNow: Fingerprinter | undefined;
  readonly counters = { loadedFromDisk: 0, downloaded: 0, chunks: 0, refused: 0 };

  constructor(o: AgentDatasetsOptions) {
    this.o = o;
    mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  }

  /** The fingerprinter of the tenant's key, once made. */
  get fingerprinter(): Fingerprinter | undefined { return this.fingerprinterNow; }

  /** The loaded set of a version, if held. */
  set(version: string): FingerprintSet | undefined { return this.loaded.get(version); }

  /** The versions loaded. */
  get versions(): string[] { return [...this.loaded.keys()]; }

  /** Bytes of the loaded sets' arrays. */
  get bytes(): number { return [...this.loaded.values()].reduce((n, s) => n + s.bytes, 0); }

  /** The sets all policies name now (and the key): held ones are kept or read from disk, others asked for, the rest dropped. */
  want(refs: readonly DatasetRef[], keyHex: string | undefined): void {
    const wanted = new Map(refs.filter((r) => VERSION.test(r.version) && r.bytes > 0 && r.bytes <= MAX_SET_BYTES).map((r) => [r.version, r]));
    for (const v of [...this.loaded.keys()]) if (!wanted.has(v)) this.loaded.delete(v);
    for (const v of [...this.downloads.keys()]) if (!wanted.has(v)) this.downloads.delete(v);
    for (const f of readdirSync(this.o.dir)) if (!wanted.has(f.replace(/\.fps(\.tmp)?$/, ''))) rmSync(join(this.o.dir, f), { force: true });
    for (const ref of wanted.values()) {
      if (this.loaded.has(ref.version) || this.readHeld(ref)) continue;
      const d = this.downloads.get(ref.version) ?? { ref, blob: Buffer.allocUnsafe(ref.bytes), received: 0, asked: false };
      this.downloads.set(ref.version, d);
      if (!d.asked) d.asked = this.o.request({ id: ref.id, version: ref.version, offset: d.received });
    }
    if (keyHex && keyHex !== this.keyHex) this.useKey(keyHex);
  }

  /** The stream is new: downloads under way are asked for again (from the bytes held) when the policies come. */
  reconnected(): void {
    for (const d of this.downloads.values()) d.asked = false;
  }

  /** A piece of a set from the server. */
  onChunk(c: DatasetChunk): void {
    const d = this.downloads.get(c.version);
    if (!d || c.id !== d.ref.id) return;
    if (c.error) {
      this.counters.refused++;
      this.o.log.warn({ dataset: d.ref.name, version: c.version.slice(0, 12), error: c.error }, 'DLP data set not delivered');
      this.downloads.delete(c.version);
      return;
    }
    const data = c.data ?? new Uint8Array();
    if ((c.offset ?? 0) !== d.received || d.received + data.length > d.ref.bytes) {
      // Out of step (a repeated answer after a re-request): start over.
      d.received = 0; d.asked = this.o.request({ id: d.ref.id, version: d.ref.version, offset: 0 });
      return;
    }
    this.counters.chunks++;
    d.blob.set(data, d.received);
    d.received += data.length;
    if (!c.last) return;
    this.downloads.delete(c.version);
    const blob = d.blob.subarray(0, d.received);
    if (sha256(blob) !== d.ref.version) {
      this.counters.refused++;
      this.o.log.warn({ dataset: d.ref.name, version: d.ref.version.slice(0, 12) }, 'DLP data set refused: its digest is not its version');
      return;
    }
    const path = join(this.o.dir, `${d.ref.version}.fps`);
    writeFileSync(`${path}.tmp`, blob, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
    this.loaded.set(d.ref.version, deserialise(blob));
    this.counters.downloaded++;
    this.o.log.info({ dataset: d.ref.name, version: d.ref.version.slice(0, 12), bytes: blob.length }, 'DLP data set loaded');
    this.o.changed();
  }

  /** Reads a held set whose bytes still match its version (a damaged file is removed and asked for again). */
  private readHeld(ref: DatasetRef): boolean {
    const path = join(this.o.dir, `${ref.version}.fps`);
    if (!existsSync(path)) return false;
    const blob = readFileSync(path);
    if (sha256(blob) !== ref.version) { rmSync(path, { force: true }); return false; }
    this.loaded.set(ref.version, deserialise(blob));
    this.counters.loadedFromDisk++;
    return true;
  }

  private useKey(keyHex: string): void {
    this.keyHex = keyHex;
    Fingerprinter.create(new Uint8Array(Buffer.from(keyHex, 'hex'))).then((fp) => {
      if (this.keyHex !== keyHex) return;
      this.fingerprinterNow = fp;
      this.o.changed();
    }, (err: unknown) => this.o.log.warn({ err: (err as Error).message }, 'DLP fingerprint key refused'));
  }
}

/** A Buffer's slice is a view of a pooled buffer: the set is read through a plain Uint8Array view, whose slices copy. */
function deserialise(blob: Buffer): FingerprintSet {
  return FingerprintSet.deserialise(new Uint8Array(blob.buffer, blob.byteOffset, blob.byteLength));
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
