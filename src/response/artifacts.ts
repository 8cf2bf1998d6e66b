// Artefact storage on the server, the port: uploads arrive as chunks per command; on the last one the digest the
// agent claims is checked against the one computed here; beyond the size limit or a digest mismatch ends the upload
// with a precise error. Adapters (src/stores/response/): files under <data-dir>/artifacts embedded
// (file-artifacts.ts), PostgreSQL at scale (postgres-artifacts.ts); conformance: test/conformance/artifact-store.test.ts.

import { randomUUID } from 'node:crypto';

export class UploadError extends Error {}

export interface StoredUpload { artifactId: string; size: number; sha256: string }

export interface IncomingChunk { seq: number; data: Uint8Array; last: boolean; sha256?: string }

export interface ArtifactStore {
  /**
   * Stores one chunk of `commandId`'s upload. Resolves with the stored artefact on the chunk that completes it,
   * otherwise undefined. Throws UploadError (and discards the partial upload) when the chunk is refused.
   */
  append(commandId: string, c: IncomingChunk, maxBytes: number): Promise<StoredUpload | undefined>;
  /** Drops a partial upload (stream lost, refused chunk, command over); a completed artefact stays. */
  abort(commandId: string): Promise<void>;
  /** The artefact's bytes (the stream errors when there is no such artefact). */
  read(artifactId: string): NodeJS.ReadableStream;
  close(): Promise<void>;
}

/** An artefact id as this server makes them (`art-<uuid>`); anything else is refused before any lookup. */
export function checkArtifactId(artifactId: string): void {
  if (!/^art-[0-9a-f-]{36}$/.test(artifactId)) throw new UploadError('malformed artefact id');
}

export const newArtifactId = () => `art-${randomUUID()}`;

