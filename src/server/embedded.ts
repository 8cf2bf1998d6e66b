// The embedded server: every server role in one process on embedded engines (ClickHouse in-process via
// chdb, SQLite, a durable local log as the bus). Ingest and the bus log run in their own thread
// (ingest-thread.ts); the pipeline, detection, response and the API run in the main thread. Owns the data
// directory layout:
//   pki/ (CA and server certificate), metadata.db, bus/ (the durable log between ingest and pipeline),
//   events/ (ClickHouse parts), identity.db, ledger.db, access-token-key.pem, ledger-key.pem(.pub),
//   admin-api-key, admin-password and metrics-token (mode 600), alert-sinks.db.

import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { LiveFeed } from '../api/live-feed.ts';
import { alertView } from '../api/routes/alerts.ts';
import { openApiSecurity, type ApiSecurity, type ApiSecurityOptions } from '../api/security.ts';
import { buildApi } from '../api/server.ts';
import { AuthError } from '../identity/errors.ts';
import { permissionsOf, PLATFORM_TENANT } from '../identity/permissions.ts';
import type { HuntLimits } from '../stores/events/hunt.ts';
import { issueServerCertificate, loadOrCreateCa, type CertificateAuthority } from '../pki/pki.ts';
import type { VigilEvent } from '../schema/event.ts';
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
import { LiveProcessIndex } from '../tree/live-index.ts';
import { PolicyPush } from './policy-push.ts';
import { AlertSinkStore } from '../alerts/sink-store.ts';
import { AlertDelivery, type DeliveryOptions } from '../alerts/delivery.ts';
import type { AuditSink } from '../ledger/sink.ts';
import type { ResponseConfig } from '../response/dispatcher.ts';
import { openResponseService } from '../response/service.ts';
import { AutoResponder, type AutoResponsePolicy } from '../response/automation.ts';

export const DEFAULT_TENANT = 'default';

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
  placeholders?: string;
  /** Webhook delivery of alerts: queue bound, attempts, backoff (tests shorten it). */
  alertDelivery?: Omit<DeliveryOptions, 'store' | 'log' | 'allowPrivateTargets'>;
  /** Alert webhooks may target loopback, private, link-local and metadata addresses (default false: SSRF guard). */
  allowPrivateAlertSinks?: boolean;
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

/** HOST:PORT as agents dial it: an unspecified listen address (0.0.0.0, ::) is advertised as this machine's hostname (in the server certificate). */
export function dialAddress(host: string, port: number): string {
  const h = host === '' || host === '0.0.0.0' || host === '::' ? hostname() : host;
  return `${h.includes(':') ? `[${h}]` : h}:${port}`;
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

async function serverCertificate(ca: CertificateAuthority, grpcHost: string) {
  const names = [...new Set(['localhost', '127.0.0.1', '::1', hostname(), grpcHost].filter((n) => n && n !== '0.0.0.0' && n !== '::'))];
  return issueServerCertificate(ca, names);
}

/** The live processes of every known host, from the store (before the pipeline applies newer events). */
async function seedLiveProcesses(metadata: MetadataStore, events: EventStore): Promise<LiveProcessIndex> {
  const index = new LiveProcessIndex();
  const now = new Date();
  for (const tenant of await metadata.listTenants()) {
    for (const h of await metadata.listHosts(tenant.id)) index.seed(tenant.id, h.id, await events.processNodes(tenant.id, h.id, now, 100_000));
  }
  return index;
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
  const liveProcesses = await seedLiveProcesses(metadata, events);
  const detection = await startDetection({ dataDir: o.dataDir, log: o.log, ruleDirs: o.ruleDirs, placeholders: o.placeholders, processes: liveProcesses });
  // Response actions: commands go down the agent's open stream; results, artefacts and reconnects come back.
  // One ledger writer per data directory: the API's ledger is everyone's audit sink.
  const security = await openApiSecurity({ dataDir: o.dataDir, ...o.security });
  const response = await openResponseService({ dataDir: o.dataDir, log: o.log, config: o.response, audit: o.audit ?? security.ledger,
    ownerOf: (tenantId, actor) => security.auth.ownerOf(tenantId, actor),
    // Only down the stream of that agent in that tenant (as the scale-out relay does): a command never reaches
    // another tenant's agent, whatever host id it names.
    send: ({ tenantId, agentId }, msg) => {
      const c = ingest.channels.get(agentId);
      if (!c || c.identity.tenantId !== tenantId) return false;
      c.send(msg);
      return true;
    } });
  // Ingest and the bus log run in a thread of their own: acknowledgements never wait for this thread.
  // Policies: the latest versions go down each stream as it opens, new versions to the tenant's open streams.
  const ingest = await startIngestThread({ busDir: join(o.dataDir, 'bus'), busSyncMs: o.busSyncMs ?? 0, pkiDir: join(o.dataDir, 'pki'), serverCert: await serverCertificate(ca, grpcAddr.host),
    metadata, log: o.log, ...response.ingestHooks,
    onAgentConnected: (a) => {
      response.ingestHooks.onAgentConnected?.(a);
      policies.onAgentConnected(a).catch((err: unknown) => o.log.error({ err, agentId: a.agentId }, 'policy push failed'));
    },
    onPolicyAck: (a, ack) => { policies.onAck(a, ack).catch((err: unknown) => o.log.error({ err, agentId: a.agentId }, 'policy acknowledgement not recorded')); },
  });
  const bus = ingest.bus;
  const pipeline = new Pipeline({ bus, store: events, stages: [detection.stage, ...(o.stages ?? [])], log: o.log, maxBatchMessages: 256, maxWaitMs: o.pipelineBatchWaitMs ?? 1000 });
  pipeline.start();
  const policies = new PolicyPush({ metadata, channels: ingest.channels, log: o.log });
  const removeIngestMetrics = addThreadMetrics(() => ingest.metricsJson());
  const grpcPort = await ingest.listen(`${grpcAddr.host.includes(':') ? `[${grpcAddr.host}]` : grpcAddr.host}:${grpcAddr.port}`);
  const adminKeyPath = await ensureAdminKey(security, o.dataDir);
  const adminPasswordPath = await ensureAdminUser(security, o.dataDir);
  const metricsToken = loadOrCreateMetricsToken(o.dataDir);
  const liveFeed = new LiveFeed();
  detection.onAlert((a) => liveFeed.publish('alert', a.tenant_id, alertView(a)));
  const autoResponder = new AutoResponder(response.dispatcher, o.autoResponse ?? {});
  detection.onAlert((a) => {
    if (!a.rule.response) return;
    autoResponder.onAlert(a, a.rule.response).then(
      (r) => { if ('skipped' in r) o.log.info({ alert: a.id, rule: a.rule.id, reason: r.skipped }, 'automated response not run'); },
      (err: unknown) => o.log.error({ err, alert: a.id }, 'automated response failed'));
  });
  const alertSinks = new AlertSinkStore(join(o.dataDir, 'alert-sinks.db'));
  const allowPrivateAlertSinks = o.allowPrivateAlertSinks ?? false;
  const delivery = new AlertDelivery({ store: alertSinks, log: o.log, ...o.alertDelivery, allowPrivateTargets: allowPrivateAlertSinks });
  detection.onAlert((a) => delivery.enqueue(a.tenant_id, alertView(a)));
  const api = buildApi({ metadata, events, log: o.log, security, liveFeed, hunt: o.hunt, defaultTenant: DEFAULT_TENANT, isConnected: (id) => ingest.channels.has(id), response: response.dispatcher,
    agentEndpoint: dialAddress(grpcAddr.host, grpcPort), agentCaPem: ca.certPem,
    onPolicyStored: (p) => policies.published(p), onAgentRevoked: (id) => ingest.disconnect(id, 'agent certificate revoked'), alertSinks, allowPrivateAlertSinks, alerts: detection.alerts, incidents: detection.incidents, rules: detection.rules, liveProcesses, metricsToken });
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
      await delivery.close();
      alertSinks.close();
      await ingest.closeIngest();
      await response.close();
      if (!(await bus.drain(15_000))) o.log.warn({ backlog: await bus.backlog() }, 'stopping with a backlog; it is stored at the next start');
      await pipeline.stop();
      await bus.close();
      await ingest.terminate();
      removeIngestMetrics();
      await events.close();
      await security.close();
      await detection.close();
      await metadata.close();
    },
  };
}
