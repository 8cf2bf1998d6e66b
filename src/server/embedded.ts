// The embedded server: every server role in one process on embedded engines (ClickHouse in-process via
// chdb, SQLite, a durable local log as the bus). Owns the data directory layout:
//   pki/ (CA and server certificate), metadata.db, bus/ (the durable log between ingest and pipeline),
//   events/ (ClickHouse parts), admin-api-key (mode 600).

import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { buildApi, hashApiKey } from '../api/server.ts';
import { jsonCodec } from '../bus/codec.ts';
import { LocalLogBus } from '../bus/local-log.ts';
import { issueServerCertificate, loadOrCreateCa, type CertificateAuthority } from '../pki/pki.ts';
import type { VigilEvent } from '../schema/event.ts';
import { ChdbEngine } from '../stores/events/chdb-engine.ts';
import { ClickHouseEventStore } from '../stores/events/clickhouse-store.ts';
import { SqliteMetadataStore } from '../stores/metadata/sqlite.ts';
import type { MetadataStore } from '../stores/metadata/types.ts';
import { IngestServer } from './ingest.ts';
import { reportBusBacklog } from './metrics.ts';
import { issueEnrollmentToken } from './enrollment-tokens.ts';
import { Pipeline, type PipelineStage } from './pipeline.ts';

export const DEFAULT_TENANT = 'default';

export interface ServerOptions {
  dataDir: string;
  http: string; // host:port
  grpc: string; // host:port
  log: Logger;
  retentionDays?: number;
  stages?: PipelineStage[];
}

export interface RunningServer {
  httpUrl: string;
  grpcAddress: string;
  caPem: string;
  metadata: MetadataStore;
  adminKeyPath: string;
  /** A fresh enrolment token (single use unless told otherwise) for the default tenant. */
  createEnrollmentToken(ttlMs?: number, maxUses?: number | null): Promise<string>;
  stop(): Promise<void>;
}

export function splitHostPort(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(s);
  if (!m) throw new Error(`expected HOST:PORT, got '${s}'`);
  return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/** Creates the initial admin API key on first start and writes it to <data-dir>/admin-api-key. */
async function ensureAdminKey(metadata: MetadataStore, dataDir: string): Promise<string> {
  const path = join(dataDir, 'admin-api-key');
  if (existsSync(path)) {
    const existing = readFileSync(path, 'utf8').trim();
    if (await metadata.findApiKey(hashApiKey(existing))) return path;
  }
  const key = `vgl_${randomBytes(24).toString('base64url')}`;
  await metadata.createApiKey({ id: randomUUID(), tenantId: DEFAULT_TENANT, name: 'initial admin', role: 'admin', keyHash: hashApiKey(key), createdAt: Date.now(), revoked: false });
  writeSecret(path, `${key}\n`);
  return path;
}

async function serverCertificate(ca: CertificateAuthority, grpcHost: string) {
  const names = [...new Set(['localhost', '127.0.0.1', '::1', hostname(), grpcHost].filter((n) => n && n !== '0.0.0.0' && n !== '::'))];
  return issueServerCertificate(ca, names);
}

export async function startEmbeddedServer(o: ServerOptions): Promise<RunningServer> {
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(join(o.dataDir, 'pki'), { recursive: true, mode: 0o700 });
  const metadata = new SqliteMetadataStore(join(o.dataDir, 'metadata.db'));
  await metadata.migrate();
  await metadata.ensureTenant(DEFAULT_TENANT, 'Default tenant');
  const ca = await loadOrCreateCa(join(o.dataDir, 'pki'));
  const grpcAddr = splitHostPort(o.grpc);
  const events = new ClickHouseEventStore(new ChdbEngine(join(o.dataDir, 'events')), { retentionDays: o.retentionDays });
  await events.init();
  const bus = await LocalLogBus.open<VigilEvent[]>(join(o.dataDir, 'bus'), {
    codec: jsonCodec(), onHandlerError: (err, attempt) => o.log.error({ err, attempt }, 'pipeline batch failed; retrying'),
  });
  reportBusBacklog(() => bus.backlog);
  const pipeline = new Pipeline({ bus, store: events, stages: o.stages ?? [], log: o.log, maxBatchMessages: 512, maxWaitMs: 50 });
  pipeline.start();
  const ingest = new IngestServer({ ca, serverCert: await serverCertificate(ca, grpcAddr.host), metadata, bus, log: o.log });
  const grpcPort = await ingest.listen(`${grpcAddr.host.includes(':') ? `[${grpcAddr.host}]` : grpcAddr.host}:${grpcAddr.port}`);
  const adminKeyPath = await ensureAdminKey(metadata, o.dataDir);
  const api = buildApi({ metadata, events, log: o.log, isConnected: (id) => ingest.channels.has(id) });
  const http = splitHostPort(o.http);
  await api.listen({ host: http.host, port: http.port });
  const address = api.server.address();
  const httpPort = typeof address === 'object' && address ? address.port : http.port;
  const urlHost = http.host.includes(':') ? `[${http.host}]` : http.host;

  return {
    httpUrl: `http://${urlHost}:${httpPort}`,
    grpcAddress: `${grpcAddr.host.includes(':') ? `[${grpcAddr.host}]` : grpcAddr.host}:${grpcPort}`,
    caPem: ca.certPem,
    metadata,
    adminKeyPath,
    async createEnrollmentToken(ttlMs = 3_600_000, maxUses: number | null = 1) {
      return (await issueEnrollmentToken(metadata, DEFAULT_TENANT, ttlMs, maxUses)).token;
    },
    async stop() {
      await api.close();
      await ingest.close();
      if (!(await bus.drain(15_000))) o.log.warn({ backlog: bus.backlog }, 'stopping with a backlog; it is stored at the next start');
      await pipeline.stop();
      await bus.close();
      await events.close();
      await metadata.close();
    },
  };
}
