// DLP data sets to agents (docs/dlp.md, "Delivery"): a policy naming data sets (by id or name) is sent with a
// reference per set — id, name, version = SHA-256 of the serialised fingerprint set, size — and the tenant's
// fingerprint key; the agent pulls a set it does not hold by version, over its own mTLS stream, in pieces of at
// most 1 MiB (far below gRPC's 4 MiB message limit) and verifies the digest. A data set's content never changes
// under its id (a replacement is a new upload), so digests are cached by (tenant, id). Only keyed fingerprints
// ever leave: the server keeps no CSV.

import { createHash } from 'node:crypto';
import { datasetsNamed } from '../dlp/policy.ts';
import type { DatasetChunk, DatasetRef, DatasetRequest } from '../schema/wire.ts';

/** Where the data sets are (SqlDlpStore). */
export interface DatasetSource {
  list(tenantId: string): Promise<{ id: string; name: string }[]>;
  fingerprintSet(tenantId: string, id: string): Promise<Uint8Array | undefined>;
  tenantKey(tenantId: string): Promise<Uint8Array>;
}

export const DATASET_CHUNK_BYTES = 1024 * 1024;

export class DatasetDelivery {
  private readonly source: DatasetSource;
  private readonly digests = new Map<string, { version: string; bytes: number }>();

  constructor(source: DatasetSource) {
    this.source = source;
  }

  /** The references of the data sets a policy document names that exist now, and the tenant's key (if any). */
  async resolve(tenantId: string, document: unknown): Promise<{ datasets: DatasetRef[]; dlp_key?: Uint8Array }> {
    const named = datasetsNamed(document);
    if (named.length === 0) return { datasets: [] };
    const sets = (await this.source.list(tenantId)).filter((s) => named.includes(s.id) || named.includes(s.name));
    const datasets: DatasetRef[] = [];
    for (const s of sets) {
      const d = await this.digest(tenantId, s.id);
      if (d) datasets.push({ id: s.id, name: s.name, ...d });
    }
    return datasets.length > 0 ? { datasets, dlp_key: await this.source.tenantKey(tenantId) } : { datasets };
  }

  /** The chunks answering a request (one error chunk when the version is gone: deleted or replaced). */
  async chunks(tenantId: string, req: DatasetRequest, send: (c: DatasetChunk) => void): Promise<void> {
    const blob = req.id ? await this.source.fingerprintSet(tenantId, req.id) : undefined;
    if (!blob || sha256(blob) !== req.version) return send({ id: req.id, version: req.version, error: 'data set version not found' });
    for (let offset = Math.min(req.offset ?? 0, blob.length); ; offset += DATASET_CHUNK_BYTES) {
      const end = Math.min(blob.length, offset + DATASET_CHUNK_BYTES);
      send({ id: req.id, version: req.version, offset, data: blob.subarray(offset, end), last: end === blob.length });
      if (end === blob.length) return;
    }
  }

  private async digest(tenantId: string, id: string): Promise<{ version: string; bytes: number } | undefined> {
    const key = `${tenantId}\n${id}`;
    let d = this.digests.get(key);
    if (!d) {
      const blob = await this.source.fingerprintSet(tenantId, id);
      if (!blob) return undefined;
      d = { version: sha256(blob), bytes: blob.length };
      this.digests.set(key, d);
    }
    return d;
  }
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
