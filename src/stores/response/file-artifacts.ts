// The embedded artefact store: chunks in order, appended to <data-dir>/artifacts/<command-id>.part while a SHA-256
// runs over them, renamed to <artifact-id> when complete (a chunk out of order ends the upload). Implements the port
// of src/response/artifacts.ts.

import { createHash, type Hash } from 'node:crypto';
import { createReadStream, mkdirSync, readdirSync, rmSync, type ReadStream } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { checkArtifactId, newArtifactId, UploadError, type ArtifactStore, type IncomingChunk, type StoredUpload } from '../../response/artifacts.ts';

interface Upload { file: FileHandle; nextSeq: number; bytes: number; hash: Hash; path: string }

export class FileArtifactStore implements ArtifactStore {
  private readonly dir: string;
  private readonly uploads = new Map<string, Upload>();

  /** Partial uploads left by an earlier process are discarded: their agents start them again from chunk 0. */
  constructor(dir: string) {
    this.dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(dir)) if (name.endsWith('.part')) rmSync(join(dir, name), { force: true });
  }

  /**
   * Appends one chunk of `commandId`'s upload (seq 0 starts it afresh). Resolves with the stored artefact on the
   * last chunk, otherwise undefined. Throws UploadError (and discards the partial file) when the chunk is refused.
   */
  async append(commandId: string, c: IncomingChunk, maxBytes: number): Promise<StoredUpload | undefined> {
    if (c.seq === 0) await this.abort(commandId);
    const u = this.uploads.get(commandId) ?? await this.begin(commandId, c.seq);
    try {
      if (c.seq !== u.nextSeq) throw new UploadError(`chunk ${c.seq} out of order: expected ${u.nextSeq}`);
      if (u.bytes + c.data.length > maxBytes) throw new UploadError(`artefact exceeds its limit of ${maxBytes} bytes`);
      await u.file.write(c.data);
      u.hash.update(c.data);
      u.bytes += c.data.length;
      u.nextSeq++;
      return c.last ? await this.finish(commandId, u, c.sha256 ?? '') : undefined;
    } catch (err) {
      await this.abort(commandId);
      throw err;
    }
  }

  private async begin(commandId: string, seq: number): Promise<Upload> {
    if (seq !== 0) throw new UploadError(`chunk ${seq} of an upload that was not started`);
    const path = join(this.dir, `${commandId}.part`);
    const u = { file: await open(path, 'w', 0o600), nextSeq: 0, bytes: 0, hash: createHash('sha256'), path };
    this.uploads.set(commandId, u);
    return u;
  }

  private async finish(commandId: string, u: Upload, claimed: string): Promise<StoredUpload> {
    const sha256 = u.hash.digest('hex');
    if (claimed !== sha256) throw new UploadError(`artefact digest mismatch: agent says ${claimed || '(none)'}, server computed ${sha256}`);
    await u.file.sync();
    await u.file.close();
    this.uploads.delete(commandId);
    const artifactId = newArtifactId();
    await rename(u.path, this.pathOf(artifactId));
    return { artifactId, size: u.bytes, sha256 };
  }

  /** Drops a partial upload (stream lost, refused chunk). */
  async abort(commandId: string): Promise<void> {
    const u = this.uploads.get(commandId);
    if (!u) return;
    this.uploads.delete(commandId);
    await u.file.close().catch(() => {});
    await rm(u.path, { force: true });
  }

  read(artifactId: string): ReadStream {
    return createReadStream(this.pathOf(artifactId));
  }

  private pathOf(artifactId: string): string {
    checkArtifactId(artifactId);
    return join(this.dir, artifactId);
  }

  async close(): Promise<void> {
    for (const id of [...this.uploads.keys()]) await this.abort(id);
  }
}
