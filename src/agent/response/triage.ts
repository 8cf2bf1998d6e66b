// Triage collection and file retrieval on the agent. `collectTriage` walks the requested paths (symlinks are
// recorded, never followed) and streams a tar.gz into an ArtifactSink: each regular file under files/<path> with
// its SHA-256 computed while it is read, then manifest.json (every file's size, mode, mtime and hash, every path
// that could not be read and why, whether the size cap cut the collection). The size cap counts the tar stream
// (content plus an upper bound of each entry's header and padding) and is enforced while reading: a file that
// does not fit stops the collection. An unreadable path is reported,
// never fatal. `fetchFile` streams one file as is, with its hash. Back-pressure comes from the sink.

import { createHash } from 'node:crypto';
import { lstat, open, readdir, readlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import type { CollectParams, GetFileParams } from '../../response/model.ts';
import type { ArtifactSink } from './uploader.ts';

const CHUNK = 64 * 1024;
const MAX_FILES = 100_000;
/** Upper bound of a tar entry's bytes besides its content (a 512-byte header and up to 511 bytes of padding). */
const TAR_ENTRY_OVERHEAD = 1024;
/** Entries of the manifest repeated in the command result (the archive's manifest has all). */
const RESULT_LISTING = 1000;

export interface ManifestFile { path: string; size: number; sha256: string; mode: string; mtime: string; note?: string }
export interface ManifestSkip { path: string; reason: string }

export interface Manifest {
  artifact_name: string;
  created: string;
  max_bytes: number;
  content_bytes: number;
  truncated: boolean;
  files: ManifestFile[];
  symlinks: { path: string; target: string }[];
  unreadable: ManifestSkip[];
  skipped: ManifestSkip[];
}

class CapReached extends Error {}

const reason = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/**
 * Reads exactly `size` bytes of an open file in chunks (the size it had when the walk saw it), calling `onChunk`
 * for each; a file that shrank meanwhile is padded with zeros (so the archive stays well-formed) and noted.
 */
async function readDeclared(fh: FileHandle, size: number, onChunk: (b: Buffer) => Promise<void>): Promise<string | undefined> {
  let done = 0;
  while (done < size) {
    const buf = Buffer.alloc(Math.min(CHUNK, size - done));
    const { bytesRead } = await fh.read(buf, 0, buf.length, done);
    if (bytesRead === 0) {
      await onChunk(Buffer.alloc(size - done));
      return `shrank from ${size} to ${done} bytes while read; padded with zeros`;
    }
    done += bytesRead;
    await onChunk(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
  }
  return undefined;
}

/** Writes into a tar entry, waiting for drain (and failing when the archive's consumer failed). */
function entryWriter(entry: NodeJS.WritableStream, failed: Promise<never>) {
  return async (b: Buffer) => {
    if (!entry.write(b)) await Promise.race([new Promise((r) => entry.once('drain', r)), failed]);
  };
}

class TriageWalk {
  readonly manifest: Manifest;
  private readonly pack: tar.Pack;
  private readonly failed: Promise<never>;
  /** Bytes of tar stream so far (content and entry overhead): what the size cap limits. */
  private tarBytes = 0;

  constructor(p: CollectParams, pack: tar.Pack, failed: Promise<never>) {
    this.pack = pack;
    this.failed = failed;
    this.manifest = {
      artifact_name: p.artifact_name, created: new Date().toISOString(), max_bytes: p.max_bytes, content_bytes: 0,
      truncated: false, files: [], symlinks: [], unreadable: [], skipped: [],
    };
  }

  async visit(path: string): Promise<void> {
    let st;
    try {
      st = await lstat(path);
    } catch (err) {
      return void this.manifest.unreadable.push({ path, reason: reason(err) });
    }
    if (st.isSymbolicLink()) return this.symlink(path);
    if (st.isDirectory()) return this.directory(path);
    if (!st.isFile()) return void this.manifest.skipped.push({ path, reason: 'not a regular file' });
    return this.file(path);
  }

  private async symlink(path: string): Promise<void> {
    try {
      this.manifest.symlinks.push({ path, target: await readlink(path) });
    } catch (err) {
      this.manifest.unreadable.push({ path, reason: reason(err) });
    }
  }

  private async directory(path: string): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(path)).sort();
    } catch (err) {
      return void this.manifest.unreadable.push({ path, reason: reason(err) });
    }
    for (const name of names) await this.visit(join(path, name));
  }

  private async file(path: string): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      return void this.manifest.unreadable.push({ path, reason: reason(err) });
    }
    try {
      const st = await fh.stat();
      const m = this.manifest;
      if (m.files.length >= MAX_FILES) throw new CapReached(`more than ${MAX_FILES} files`);
      if (this.tarBytes + TAR_ENTRY_OVERHEAD + st.size > m.max_bytes) {
        m.skipped.push({ path, reason: `size cap of ${m.max_bytes} bytes reached` });
        throw new CapReached('size cap reached');
      }
      m.content_bytes += st.size;
      this.tarBytes += TAR_ENTRY_OVERHEAD + st.size;
      const hash = createHash('sha256');
      let entry!: NodeJS.WritableStream;
      const written = new Promise<void>((resolve, reject) => {
        entry = this.pack.entry({ name: `files${path}`, size: st.size, mode: st.mode & 0o7777, mtime: st.mtime, type: 'file' },
          (err) => (err ? reject(err) : resolve()));
      });
      const write = entryWriter(entry, this.failed);
      const note = await readDeclared(fh, st.size, async (b) => { hash.update(b); await write(b); });
      entry.end();
      await Promise.race([written, this.failed]);
      m.files.push({ path, size: st.size, sha256: hash.digest('hex'), mode: (st.mode & 0o7777).toString(8), mtime: st.mtime.toISOString(), ...(note ? { note } : {}) });
    } finally {
      await fh.close();
    }
  }
}

/** Streams a tar.gz of `p.paths` into `sink`; resolves with the manifest and the archive's digest and size. */
export async function collectTriage(p: CollectParams, sink: ArtifactSink) {
  const pack = tar.pack();
  const consumer = pipeline(pack, createGzip({ chunkSize: CHUNK }), async (source: AsyncIterable<Buffer>) => {
    for await (const b of source) await sink.write(b);
  });
  let fail!: (err: unknown) => void;
  const failed = new Promise<never>((_, reject) => { fail = reject; });
  failed.catch(() => {});
  consumer.catch((err: unknown) => fail(err));
  const walk = new TriageWalk(p, pack, failed);
  try {
    for (const path of p.paths) await walk.visit(path);
  } catch (err) {
    if (!(err instanceof CapReached)) {
      pack.destroy(err as Error);
      await consumer.catch(() => {});
      throw err;
    }
    walk.manifest.truncated = true;
  }
  const manifestJson = Buffer.from(JSON.stringify(walk.manifest, null, 1));
  pack.entry({ name: 'manifest.json', size: manifestJson.length, mode: 0o644, mtime: new Date() }, manifestJson);
  pack.finalize();
  await consumer;
  const archive = await sink.end();
  const m = walk.manifest;
  return {
    artifact_name: m.artifact_name, archive_sha256: archive.sha256, archive_bytes: archive.bytes, file_count: m.files.length,
    content_bytes: m.content_bytes, max_bytes: m.max_bytes, truncated: m.truncated,
    manifest_sha256: createHash('sha256').update(manifestJson).digest('hex'),
    files: m.files.slice(0, RESULT_LISTING), files_listed: Math.min(RESULT_LISTING, m.files.length),
    unreadable: m.unreadable.slice(0, RESULT_LISTING), skipped: m.skipped.slice(0, RESULT_LISTING), symlinks: m.symlinks.length,
  };
}

/** Streams one regular file into `sink` as is; refuses a file over `p.max_bytes`. */
export async function fetchFile(p: GetFileParams, sink: ArtifactSink) {
  const fh = await open(p.path, 'r');
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`${p.path} is not a regular file`);
    if (st.size > p.max_bytes) throw new Error(`${p.path} is ${st.size} bytes, over the limit of ${p.max_bytes}`);
    const note = await readDeclared(fh, st.size, (b) => sink.write(b));
    const { sha256, bytes } = await sink.end();
    return { path: p.path, size: bytes, sha256, mode: (st.mode & 0o7777).toString(8), mtime: st.mtime.toISOString(), ...(note ? { note } : {}) };
  } finally {
    await fh.close();
  }
}
