// Artefact storage on PostgreSQL (scale-out API role): every API process stores the chunks it receives and
// serves every artefact. An upload's chunks reach the API processes through one shared consumer, so they come
// in any order and to any process: each chunk is one transaction that locks the upload's row (serialising the
// chunks of one upload across processes), upserts the chunk by sequence number (a redelivered or re-sent chunk
// replaces itself), checks the size limit, and, once the last chunk's number is known and every chunk up to it is
// there, computes the SHA-256 over the chunks in order (read a page at a time), compares it with the digest the
// agent claimed, and marks the upload complete under a new artefact id. A refused upload is deleted. Downloads
// stream the chunks a page at a time. Parameterised queries only.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type pg from 'pg';
import { inTransaction, openMigratedPool } from '../postgres-migrations.ts';
import { checkArtifactId, newArtifactId, UploadError, type ArtifactStore, type IncomingChunk, type StoredUpload } from '../../response/artifacts.ts';

const MIGRATION_LOCK = 0x6172_7466; // 'artf'
const PAGE = 16; // chunks per query when hashing or reading

const MIGRATIONS: string[][] = [[
  `CREATE TABLE ir_artifact_uploads (command_id TEXT PRIMARY KEY, last_seq INTEGER, claimed_sha256 TEXT,
    artifact_id TEXT UNIQUE, size BIGINT, sha256 TEXT, updated_at TIMESTAMPTZ NOT NULL)`,
  'CREATE TABLE ir_artifact_chunks (command_id TEXT NOT NULL, seq INTEGER NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (command_id, seq))',
]];

interface UploadRow { last_seq: number | null; claimed_sha256: string | null; artifact_id: string | null }

type Outcome = { stored?: StoredUpload; refused?: string };

export class PostgresArtifactStore implements ArtifactStore {
  private readonly pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
  }

  static async open(o: pg.PoolConfig): Promise<PostgresArtifactStore> {
    return new PostgresArtifactStore(await openMigratedPool(o, 4, 'ir_artifact_migrations', MIGRATION_LOCK, MIGRATIONS));
  }

  async append(commandId: string, c: IncomingChunk, maxBytes: number): Promise<StoredUpload | undefined> {
    if (!Number.isInteger(c.seq) || c.seq < 0) throw new UploadError(`chunk number ${c.seq} is not a non-negative integer`);
    const outcome = await inTransaction(this.pool, (db) => this.appendIn(db, commandId, c, maxBytes));
    if (outcome.refused) {
      await this.abort(commandId);
      throw new UploadError(outcome.refused);
    }
    return outcome.stored;
  }

  private async appendIn(db: pg.PoolClient, commandId: string, c: IncomingChunk, maxBytes: number): Promise<Outcome> {
    await db.query('INSERT INTO ir_artifact_uploads (command_id, updated_at) VALUES ($1, now()) ON CONFLICT DO NOTHING', [commandId]);
    const u = (await db.query<UploadRow>('SELECT last_seq, claimed_sha256, artifact_id FROM ir_artifact_uploads WHERE command_id = $1 FOR UPDATE', [commandId])).rows[0];
    if (u.artifact_id !== null) return {}; // a chunk of a completed upload, delivered again
    if (u.last_seq !== null && c.seq > u.last_seq) return { refused: `chunk ${c.seq} after the last chunk ${u.last_seq}` };
    if (c.last && u.last_seq !== null && c.seq !== u.last_seq) return { refused: `chunk ${c.seq} claims to be last, but ${u.last_seq} was` };
    await db.query(`INSERT INTO ir_artifact_chunks (command_id, seq, data) VALUES ($1, $2, $3)
      ON CONFLICT (command_id, seq) DO UPDATE SET data = excluded.data`, [commandId, c.seq, Buffer.from(c.data)]);
    const lastSeq = c.last ? c.seq : u.last_seq;
    const claimed = c.last ? (c.sha256 ?? '') : u.claimed_sha256;
    await db.query('UPDATE ir_artifact_uploads SET last_seq = $2, claimed_sha256 = $3, updated_at = now() WHERE command_id = $1', [commandId, lastSeq, claimed]);
    const { n, bytes } = (await db.query<{ n: number; bytes: string | null }>(
      'SELECT count(*)::int AS n, sum(octet_length(data)) AS bytes FROM ir_artifact_chunks WHERE command_id = $1', [commandId])).rows[0];
    if (Number(bytes ?? 0) > maxBytes) return { refused: `artefact exceeds its limit of ${maxBytes} bytes` };
    if (lastSeq === null || n !== lastSeq + 1) return {};
    const hash = createHash('sha256');
    for await (const data of this.pages(db, 'command_id', commandId)) hash.update(data);
    const sha256 = hash.digest('hex');
    if (claimed !== sha256) return { refused: `artefact digest mismatch: agent says ${claimed || '(none)'}, server computed ${sha256}` };
    const stored = { artifactId: newArtifactId(), size: Number(bytes ?? 0), sha256 };
    await db.query('UPDATE ir_artifact_uploads SET artifact_id = $2, size = $3, sha256 = $4, updated_at = now() WHERE command_id = $1',
      [commandId, stored.artifactId, stored.size, stored.sha256]);
    return { stored };
  }

  /** The chunks of an upload (by command id) or of an artefact (by artefact id), in order, a page at a time. */
  private async *pages(db: Pick<pg.Pool, 'query'>, by: 'command_id' | 'artifact_id', key: string): AsyncGenerator<Buffer> {
    const upload = by === 'command_id' ? 'c.command_id = $1' : 'c.command_id = (SELECT command_id FROM ir_artifact_uploads WHERE artifact_id = $1)';
    for (let from = 0; ; from += PAGE) {
      const rows = (await db.query<{ data: Buffer }>(`SELECT c.data FROM ir_artifact_chunks c WHERE ${upload} AND c.seq >= $2 AND c.seq < $3 ORDER BY c.seq`,
        [key, from, from + PAGE])).rows;
      for (const r of rows) yield r.data;
      if (rows.length < PAGE) return;
    }
  }

  async abort(commandId: string): Promise<void> {
    await inTransaction(this.pool, async (db) => {
      const r = await db.query('DELETE FROM ir_artifact_uploads WHERE command_id = $1 AND artifact_id IS NULL', [commandId]);
      if (r.rowCount) await db.query('DELETE FROM ir_artifact_chunks WHERE command_id = $1', [commandId]);
    });
  }

  read(artifactId: string): NodeJS.ReadableStream {
    checkArtifactId(artifactId);
    const pool = this.pool;
    const pages = this.pages.bind(this);
    return Readable.from((async function* () {
      const found = await pool.query('SELECT 1 FROM ir_artifact_uploads WHERE artifact_id = $1', [artifactId]);
      if (found.rowCount !== 1) throw new UploadError(`no artefact ${artifactId}`);
      yield* pages(pool, 'artifact_id', artifactId);
    })());
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
