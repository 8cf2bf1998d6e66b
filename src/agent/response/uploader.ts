// Sends an artefact up the agent's stream as ordered chunks with a bounded window of unacknowledged ones: `send`
// waits while `window` chunks are unacknowledged (credit from the server's ArtifactAck), so a slow server or
// link slows the reader instead of growing memory. An ack error, a lost stream, or no ack in time fails the upload.

import { createHash } from 'node:crypto';
import type { ArtifactAck, ArtifactChunk } from '../../schema/wire.ts';

export interface ChunkLink {
  /** False when the stream is not open. */
  sendArtifactChunk(c: ArtifactChunk): boolean;
}

export class ArtifactUploader {
  private readonly link: ChunkLink;
  private readonly commandId: string;
  private readonly window: number;
  private readonly ackTimeoutMs: number;
  private nextSeq = 0;
  private ackedSeq = -1;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  bytes = 0;

  constructor(link: ChunkLink, commandId: string, window = 16, ackTimeoutMs = 30_000) {
    this.link = link;
    this.commandId = commandId;
    this.window = window;
    this.ackTimeoutMs = ackTimeoutMs;
  }

  onAck(a: ArtifactAck): void {
    if (a.error) this.error = new Error(`server refused the upload: ${a.error}`);
    else this.ackedSeq = Math.max(this.ackedSeq, a.seq ?? 0);
    this.wake?.();
  }

  /** Sends one chunk once the window has room. The last chunk carries the whole artefact's SHA-256. */
  async send(data: Uint8Array, last = false, sha256?: string): Promise<void> {
    await this.waitUntil(() => this.nextSeq - this.ackedSeq <= this.window);
    const chunk: ArtifactChunk = { command_id: this.commandId, seq: this.nextSeq, data, ...(last ? { last, sha256 } : {}) };
    if (!this.link.sendArtifactChunk(chunk)) throw new Error('disconnected from the server during the upload');
    this.nextSeq++;
    this.bytes += data.length;
  }

  /** Resolves once the server acknowledged every chunk sent. */
  async finished(): Promise<void> {
    await this.waitUntil(() => this.ackedSeq === this.nextSeq - 1);
  }

  private async waitUntil(ready: () => boolean): Promise<void> {
    for (;;) {
      if (this.error) throw this.error;
      if (ready()) return;
      const progressed = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), this.ackTimeoutMs);
        this.wake = () => { clearTimeout(timer); resolve(true); };
      });
      this.wake = undefined;
      if (!progressed) throw new Error(`no acknowledgement from the server within ${this.ackTimeoutMs} ms`);
    }
  }
}

/** Where an artefact's bytes go, in order; `end` says the artefact is complete and returns its digest. */
export interface ArtifactSink {
  write(data: Buffer): Promise<void>;
  end(): Promise<{ sha256: string; bytes: number }>;
}

/**
 * An ArtifactSink over an uploader: hashes the bytes and holds one chunk back, so that the last chunk sent
 * carries `last` and the SHA-256; resolves `end` once the server acknowledged everything.
 */
export function uploadSink(uploader: ArtifactUploader): ArtifactSink {
  const hash = createHash('sha256');
  let held: Buffer | undefined;
  return {
    async write(data) {
      hash.update(data);
      if (held) await uploader.send(held);
      held = data;
    },
    async end() {
      const sha256 = hash.digest('hex');
      await uploader.send(held ?? Buffer.alloc(0), true, sha256);
      await uploader.finished();
      return { sha256, bytes: uploader.bytes };
    },
  };
}
