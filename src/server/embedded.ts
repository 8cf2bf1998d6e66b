// The embedded server: every server role in one process on embedded engines (ClickHouse in-process via
// chdb, SQLite, a durable local log as the bus). Ingest and the bus log run in their own thread
// (ingest-thread.ts); the pipeline, detection, response and the API run in the main thread. Owns the data
// directory layout:
//   pki/ (CA and server certificate), metadata.db, bus/ (the durable log between ingest and pipeline),
//   events/ (ClickHouse parts), identity.db, ledger.db, access-token-key.pem, ledger-key.pem(.pub),
//   admin-api-key, admin-password, metrics-token and alert-sink.key (mode 600); alert sinks and their outbox are in
//   metadata.db (an earlier alert-sinks.db is imported once, then removed).

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { LiveFeed } from '../api/live-feed.ts';
import type { AnswerSeen } from '../api/server.ts';
import { openApiSecurity, type ApiSecurity, type ApiSecurityOptions } from '../api/security.ts';
import { AuthError } from '../identity/errors.ts';
import { permissionsOf, PLATFORM_TENANT } from '../identity/permissions.ts';
import type { HuntLimits } from '../stores/events/hunt.ts';
import { issueServerCertificate, loadOrCreateCa } from '../pki/pki.ts';
import { ChdbEngine } from '../stores/events/chdb-engine.ts';
import { ClickHouseEventStore } from '../stores/events/clickhouse-store.ts';
import { CachedEventStore } from '../stores/events/cached.ts';
import type { EventStore } from '../stores/events/types.ts';
import { SqliteMetadataStore } from '../stores/metadata/sqlite.ts';
import type { MetadataStore } from '../stores/metadata/types.ts';
import { startIngestThread } from './ingest-thread.ts';
import { addThreadMetrics, loadOrCreateMetricsToken } from './metrics.ts';
import { startDetection, type Detection } from './detection.ts';
import { issueEnrollmentToken } from '../stores/metadata/enrollment-tokens.ts';
import { Pipeline, type PipelineStage } from './pipeline.ts';
import { openSqliteIntelStore } from '../stores/intel/sql-intel-store.ts';
import { openSqliteDlpStore } from '../stores/dlp/sql-dlp-store.ts';
import { openSqliteAiUsageStore } from '../stores/intel/ai-usage-store.ts';
import { loadAiServices } from './intel.ts';
import type { DeliveryOptions } from '../alerts/dispatcher.ts';
import { openEmbeddedAlertSinks } from '../stores/alert-sinks/open.ts';
import type { AuditSink } from '../ledger/sink.ts';
import type { ResponseConfig } from '../response/dispatcher.ts';
import { FileArtifactStore } from '../stores/response/file-artifacts.ts';
import { openSqliteCommandStore } from '../stores/response/sql-command-store.ts';
import type { AutoResponsePolicy } from '../response/automation.ts';
import { agentStreamHooks, assembleApi, assembleIntel, assembleResponse, dialAddress, hostPort, localAgentLink, serverCertificateNames, streamPolicies } from './assembly.ts';

export const DEFAULT_TENANT = 'default';
/** In-process listeners forget an alert stored just before a crash: the API queues those of the last day at start. */
const ALERT_CATCH_UP_MS = 24 * 3_600_000;

export interface ServerOptions {
  dataDir: string;
  http: string; // host:port
  grpc: string; // host:port
  log: Logger;
  retentionDays?: number;
  /**
   * How an agent's batch is durable when acknowledged: 0 (default) fdatasync'ed on the bus log; N > 0
   * written to it (survives the process) and fdatasync'ed within N ms, as JetStream does (docs/deployment.md).
   */
  busSyncMs?: number;
  /**
   * How long the pipeline lets a batch for the event store fill (default 1000 ms; at most 256 bus messages): events
   * are stored and detected that much later, and each insert costs the in-process engine a fixed ≈ 50 ms of CPU
   * (a part with a file per column), so fewer, larger inserts leave the cores to ingest (docs/deployment.md).
   */
  pipelineBatchWaitMs?: number;
  /** Response actions: expiry, two-person approval for isolation. */
  response?: ResponseConfig;
  /** Automated response (rules that name a response): off unless enabled here. */
  autoResponse?: Partial<AutoResponsePolicy>;
  /** Where response actions are audited (default: the ledger at <data-dir>/ledger.db). */
  audit?: AuditSink;
  stages?: PipelineStage[];
  /** Identity and rate-limit settings (tests lower the argon2 cost; Redis shares rate limits). */
  security?: Pick<ApiSecurityOptions, 'passwordParams' | 'redisUrl' | 'rateLimits' | 'accessTokenTtlSeconds'>;
  hunt?: Partial<HuntLimits>;
  /** Sigma rule directories loaded besides the built-in rules. */
  ruleDirs?: string[];
  /** A GTFOBins checkout: its functions put on process events (threat.gtfobins). */
  gtfobinsDir?: string;
  /** The generative-AI service catalogue (default: config/ai-services.json). */
  aiServicesFile?: string;
  placeholders?: string;
  /** Alert delivery through the outbox: attempts, backoff, breaker, timeouts (tests shorten them). */
  alertDelivery?: Omit<DeliveryOptions, 'allowPrivateTargets'>;
  /** Alert webhooks may target loopback, private, link-local and metadata addresses (default false: SSRF guard). */
  allowPrivateAlertSinks?: boolean;
  /** Told of every JSON answer of the API before it is serialised (tests: ApiOptions.onAnswer). */
  onAnswer?: (answer: AnswerSeen) => void;
}

export interface RunningServer {
  httpUrl: string;
  grpcAddress: string;
  caPem: string;
  metadata: MetadataStore;
  adminKeyPath: string;
  /** The Bearer token GET /metrics requires (<data-dir>/metrics-token, created at first start). */
  metricsToken: string;
  /** The initial admin user's password (user ADMIN_EMAIL in the default tenant), written on first start. */
  adminPasswordPath: string;
  /** Identity, ledger and rate limits as the API uses them. */
  security: ApiSecurity;
  /** Where alerts and host changes are published to GET /api/v1/stream. */
  liveFeed: LiveFeed;
  detection: Detection;
  /** A fresh enrolment token (single use unless told otherwise) for the default tenant. */
  createEnrollmentToken(ttlMs?: number, maxUses?: number | null): Promise<string>;
  stop(): Promise<void>;
}

export { dialAddress };

export function splitHostPort(s: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(s);
  if (!m) throw new Error(`expected HOST:PORT, got '${s}'`);
  return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
}

function writeSecret(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export const ADMIN_EMAIL = 'admin@localhost';

/** The bootstrap actor: a tenant admin of the default tenant, recorded in the ledger as `system`. */
const SYSTEM_ADMIN = { kind: 'user' as const, subject: 'system', tenantId: DEFAULT_TENANT, role: 'admin' as const, permissions: permissionsOf('admin'), tokenId: 'bootstrap' };

/** Creates the initial admin API key (tenant admin of the default tenant) and writes it to <data-dir>/admin-api-key. */
async function ensureAdminKey(security: ApiSecurity, dataDir: string): Promise<string> {
  const path = join(dataDir, 'admin-api-key');
  if (existsSync(path)) {
    try {
      await security.auth.verifyApiKey(readFileSync(path, 'utf8').trim());
      return path;
    } catch (err) {
      if (!(err instanceof AuthError)) throw err; // an unknown, revoked or old-format key is replaced
    }
  }
  const { key } = await security.auth.createApiKey(SYSTEM_ADMIN, { name: 'initial admin', role: 'admin' });
  writeSecret(path, `${key}\n`);
  return path;
}

/** Creates the initial admin user (ADMIN_EMAIL, random password in <data-dir>/admin-password) on first start. */
async function ensureAdminUser(security: ApiSecurity, dataDir: string): Promise<string> {
  const path = join(dataDir, 'admin-password');
  if (await security.identity.findUserByEmail(DEFAULT_TENANT, ADMIN_EMAIL)) return path;
  const password = randomBytes(18).toString('base64url');
  await security.users.create(SYSTEM_ADMIN, { email: ADMIN_EMAIL, password, role: 'admin' });
  writeSecret(path, `${password}\n`);
  return path;
}

export async function startEmbeddedServer(o: ServerOptions): Promise<RunningServer> {
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(join(o.dataDir, 'pki'), { recursive: true, mode: 0o700 });
  const metadata = new SqliteMetadataStore(join(o.dataDir, 'metadata.db'));
  await metadata.migrate();
  await metadata.ensureTenant(DEFAULT_TENANT, 'Default tenant');
  await metadata.ensureTenant(PLATFORM_TENANT, 'Platform (super-admins)');
  const ca = await loadOrCreateCa(join(o.dataDir, 'pki'));
  const grpcAddr = splitHostPort(o.grpc);
  // This process is the store's only writer, so searches can be answered from an exact cache between inserts.
  const events = new CachedEventStore(new ClickHouseEventStore(new ChdbEngine(join(o.dataDir, 'events')), { retentionDays: o.retentionDays }));
  await events.init();
  // The process index is seeded from the store before the pipeline applies newer events.
  const detection = await startDetection({ dataDir: o.dataDir, log: o.log, ruleDirs: o.ruleDirs, placeholders: o.placeholders, seedFrom: { metadata, events } });
  const liveProcesses = detection.processes;
  // Threat intelligence: lists in <data-dir>/intel.db, matched by the pipeline's intel stage (hot reload).
  const intelStore = await openSqliteIntelStore(join(o.dataDir, 'intel.db'));
  // AI-service usage: findings and policies in <data-dir>/ai-usage.db, services from the catalogue.
  const aiUsage = { store: await openSqliteAiUsageStore(join(o.dataDir, 'ai-usage.db')), catalog: loadAiServices(o.aiServicesFile) };
  const intel = await assembleIntel(intelStore, detection, o.log, { gtfobinsDir: o.gtfobinsDir, aiUsage });
  // DLP: data sets' fingerprint sets and the tenants' fingerprint keys in <data-dir>/dlp.db.
  const dlpStore = await openSqliteDlpStore(join(o.dataDir, 'dlp.db'));
  // One ledger writer per data directory: the API's ledger is everyone's audit sink.
  const security = await openApiSecurity({ dataDir: o.dataDir, ...o.security });
  // The agent link: this process's ingest streams (started below; read on use).
  let ingest: Awaited<ReturnType<typeof startIngestThread>> | undefined;
  const agents = localAgentLink(() => ingest, () => policies);
  const policies = streamPolicies(() => ingest, metadata, o.log, dlpStore);
  const response = await assembleResponse({
    store: openSqliteCommandStore(join(o.dataDir, 'response.db')), artifacts: new FileArtifactStore(join(o.dataDir, 'artifacts')),
  }, { security, audit: o.audit, send: agents.send, log: o.log, config: o.response });
  // Ingest and the bus log run in a thread of their own: acknowledgements never wait for this thread.
  // Policies: the latest versions go down each stream as it opens, new versions to the tenant's open streams.
  ingest = await startIngestThread({ busDir: join(o.dataDir, 'bus'), busSyncMs: o.busSyncMs ?? 0, pkiDir: join(o.dataDir, 'pki'),
    serverCert: await issueServerCertificate(ca, serverCertificateNames(grpcAddr.host)),
    metadata, log: o.log, ...agentStreamHooks(response.ingestHooks, policies, o.log),
  });
  const bus = ingest.bus;
  const pipeline = new Pipeline({ bus, store: events, stages: [...intel.stages, ...(o.stages ?? [])], log: o.log, maxBatchMessages: 256, maxWaitMs: o.pipelineBatchWaitMs ?? 1000 });
  pipeline.start();
  const threadIngest = ingest;
  const removeIngestMetrics = addThreadMetrics(() => threadIngest.metricsJson());
  const grpcPort = await ingest.listen(hostPort(grpcAddr.host, grpcAddr.port));
  const adminKeyPath = await ensureAdminKey(security, o.dataDir);
  const adminPasswordPath = await ensureAdminUser(security, o.dataDir);
  const metricsToken = loadOrCreateMetricsToken(o.dataDir);
  const alertSinks = await openEmbeddedAlertSinks(o.dataDir);
  const api = await assembleApi({
    log: o.log, metadata, events, security, response, agents, alerts: detection.alerts, incidents: detection.incidents, rules: detection.rules,
    alertFeed: { start: async ({ live, once }) => {
      detection.onAlert(live);
      detection.onAlert((a) => void once(a).catch((err: unknown) => o.log.error({ err, alert: a.id }, 'alert not handled')));
    }, catchUpMs: ALERT_CATCH_UP_MS },
    alertSinks, liveProcesses, defaultTenant: DEFAULT_TENANT, metricsToken, agentEndpoint: dialAddress(grpcAddr.host, grpcPort), agentCaPem: ca.certPem,
    autoResponse: o.autoResponse, allowPrivateAlertSinks: o.allowPrivateAlertSinks, alertDelivery: o.alertDelivery, hunt: o.hunt, http: o.http, intel: intelStore, aiUsage,
    dlp: dlpStore,
    onAnswer: o.onAnswer,
  }, splitHostPort);
  const liveFeed = api.liveFeed;
  return {
    httpUrl: `http://${api.address}`,
    grpcAddress: hostPort(grpcAddr.host, grpcPort),
    caPem: ca.certPem,
    metadata,
    adminKeyPath,
    metricsToken,
    adminPasswordPath,
    security,
    liveFeed,
    detection,
    async createEnrollmentToken(ttlMs = 3_600_000, maxUses: number | null = 1) {
      return (await issueEnrollmentToken(metadata, DEFAULT_TENANT, ttlMs, maxUses)).token;
    },
    async stop() {
      await api.close();
      await alertSinks.close();
      await threadIngest.closeIngest();
      await response.close();
      if (!(await bus.drain(15_000))) o.log.warn({ backlog: await bus.backlog() }, 'stopping with a backlog; it is stored at the next start');
      await pipeline.stop();
      intel.close();
      await intelStore.close();
      await dlpStore.close();
      await aiUsage.store.close();
      await bus.close();
      await threadIngest.terminate();
      removeIngestMetrics();
      await events.close();
      await security.close();
      await detection.close();
      await metadata.close();
    },
  };
}
