// The scale-out roles on external engines: ingest (agents' gRPC → JetStream), worker (JetStream → pipeline
// → ClickHouse, detection → PostgreSQL alerts and `alerts.<tenant>`), api (REST over PostgreSQL and
// ClickHouse, rate limits in Redis when configured, response actions through the JetStream relay of
// src/response/relay.ts: the API role dispatches, artefacts in PostgreSQL, ingest relays; shared rules, alert webhooks and the live feed
// from the alerts stream); `server` is all three in one process. Owns the
// wiring of each role to NATS JetStream, a ClickHouse server over HTTP and PostgreSQL, the per-process
// health endpoint (/healthz, /readyz, /metrics), and the drain order on stop: stop taking work, finish
// what is in hand (a worker acks its batch after the store write), then close the connections.

import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { openApiSecurity } from '../api/security.ts';
import { bytesCodec, jsonCodec, type PayloadCodec } from '../bus/codec.ts';
import { hostPartition, JetStreamBus } from '../bus/jetstream.ts';
import { LeasedPartitionBus } from '../bus/leased-partitions.ts';
import type { Bus } from '../bus/types.ts';
import { issueServerCertificate, loadOrCreateCa } from '../pki/pki.ts';
import type { VigilEvent } from '../schema/event.ts';
import { ClickHouseHttpEngine } from '../stores/events/clickhouse-http.ts';
import { ClickHouseEventStore } from '../stores/events/clickhouse-store.ts';
import { PLATFORM_TENANT } from '../identity/permissions.ts';
import { PostgresAlertStore } from '../stores/alerts/postgres.ts';
import { PostgresIncidentStore } from '../stores/incidents/postgres.ts';
import type { StoredAlert } from '../stores/alerts/types.ts';
import { PostgresPartitionLeases } from '../stores/leases/postgres.ts';
import { PostgresMetadataStore } from '../stores/metadata/postgres.ts';
import { openPostgresIntelStore, type SqlIntelStore } from '../stores/intel/sql-intel-store.ts';
import { openPostgresDlpStore, type SqlDlpStore } from '../stores/dlp/sql-dlp-store.ts';
import { openPostgresAiUsageStore, type SqlAiUsageStore } from '../stores/intel/ai-usage-store.ts';
import type { AiServiceCatalog } from '../intel/ai-services.ts';
import { loadAiServices } from './intel.ts';
import { consumeReports, relaySender } from '../response/relay.ts';
import type { AutoResponsePolicy } from '../response/automation.ts';
import { PostgresArtifactStore } from '../stores/response/postgres-artifacts.ts';
import { openPostgresCommandStore } from '../stores/response/sql-command-store.ts';
import { splitHostPort, DEFAULT_TENANT } from './embedded.ts';
import { assembleApi, assembleIntel, assembleResponse, dialAddress, hostPort, relayAgentLink, serverCertificateNames, startAgentRelay, type AlertFeed, type SharedSettings } from './assembly.ts';
import { IngestServer } from './ingest.ts';
import { lowerWorkerPriority, prioritiseIngestThread } from './role-priority.ts';
import { eventBatchCodec, publishingBatches } from './ingest-batch.ts';
import { busPublishSeconds, metricsAuthorized, registry, reportIngestLoopDelay } from './metrics.ts';
import { Pipeline } from './pipeline.ts';
import { openPostgresAlertSinks } from '../stores/alert-sinks/open.ts';
import { apiRules, sharedRules, workerDetection } from './role-detection.ts';

/** The settings of the scale-out roles, read and checked by src/cli/role-config.ts (flags, VIGIL_* variables, YAML). */
export interface RoleConfig {
  nats: string;
  busNamespace: string;
  busMaxBytes: number;
  /** Replicas of new JetStream streams (default: 3 on a cluster of three or more servers, else 1). */
  busReplicas?: number;
  eventPartitions: number;
  ownedPartitions: number[] | undefined;
  clickhouse: string;
  clickhouseUser: string;
  clickhousePassword: string;
  clickhouseDatabase: string;
  postgres: string;
  grpc: string;
  http: string;
  health: string;
  metricsToken: string | undefined;
  pkiDir: string;
  agentEndpoint: string | undefined;
  retentionDays: number;
  workerBatch: number;
  pipelineBatchWaitMs: number;
  workerNice: number;
  workerIdleScheduling: boolean;
  ackWaitMs: number;
  workerIndex: number | undefined;
  workerCount: number | undefined;
  partitionLeaseMs: number;
  ruleDirs: string[];
  /** worker: a GTFOBins checkout whose functions are put on process events. */
  gtfobinsDir: string | undefined;
  /** worker, api: the generative-AI service catalogue (default: config/ai-services.json). */
  aiServicesFile: string | undefined;
  placeholders: string | undefined;
  redis: string | undefined;
  allowPrivateAlertSinks: boolean;
  /** api: days delivered and suppressed outbox rows are kept; days dead letters are. */
  alertOutboxRetentionDays: number;
  alertDeadLetterRetentionDays: number;
  /** api: isolation needs a second principal's approval. */
  irTwoPerson: boolean;
  /** api: response actions not done within this many seconds expire. */
  irExpirySeconds: number;
  /** api: run the responses rules name (high and critical alerts, per-host hourly cap per API process). */
  autoResponse: boolean;
  /** api: tenants in which rule files' responses run: '*' or ids separated by commas (default: default). */
  autoResponseTenants: string | undefined;
  /** api: requests per minute per user or key, and per tenant (burst 2×). */
  rateLimitUser: number | undefined;
  rateLimitTenant: number | undefined;
}

/** The settings that mean the same as `vigil up`'s (src/server/assembly.ts SharedSettings). */
export function sharedSettings(c: Pick<RoleConfig, 'irTwoPerson' | 'irExpirySeconds' | 'autoResponse' | 'autoResponseTenants' | 'allowPrivateAlertSinks'
  | 'alertOutboxRetentionDays' | 'alertDeadLetterRetentionDays'>): SharedSettings {
  return {
    response: { requireIsolationApproval: c.irTwoPerson, commandTtlMs: c.irExpirySeconds * 1000 },
    autoResponse: { enabled: c.autoResponse, ...autoResponseTenants(c.autoResponseTenants) },
    allowPrivateAlertSinks: c.allowPrivateAlertSinks,
    alertDelivery: { retention: { settledMs: c.alertOutboxRetentionDays * 86_400_000, deadMs: c.alertDeadLetterRetentionDays * 86_400_000 } },
  };
}

/** `--auto-response-tenants`: '*' or tenant ids separated by commas; absent: the policy's default. */
export function autoResponseTenants(list: string | undefined): Pick<AutoResponsePolicy, 'operatorRuleTenants'> | Record<string, never> {
  const t = list?.trim();
  if (t === undefined) return {};
  return { operatorRuleTenants: t === '*' ? '*' : t.split(',').map((x) => x.trim()).filter(Boolean) };
}

/** A per-minute limit with a burst of 2×. */
export const perMinute = (n: number | undefined) => (n === undefined ? undefined : { perMinute: n, burst: 2 * n });

/** The API's rate limits from `--rate-limit-user` and `--rate-limit-tenant` (unset: the defaults). */
export const rateLimitsOf = (c: Pick<RoleConfig, 'rateLimitUser' | 'rateLimitTenant'>) =>
  ({ ...(c.rateLimitUser ? { perUser: perMinute(c.rateLimitUser)! } : {}), ...(c.rateLimitTenant ? { perTenant: perMinute(c.rateLimitTenant)! } : {}) });

export type RoleName = 'ingest' | 'worker' | 'api';

export interface RunningRoles {
  /** Bound addresses, e.g. { grpc: '127.0.0.1:8443', http: …, health: … }. */
  addresses: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * The events stream's connection: workers consume event batches (eventBatchCodec) from their partitions;
 * ingest publishes batches already encoded (publishingBatches).
 */
function openBus<T>(c: RoleConfig, log: Logger, codec: PayloadCodec<T>, ownedPartitions?: number[]): Promise<JetStreamBus<T>> {
  return JetStreamBus.connect<T>({
    servers: c.nats.split(','), codec, namespace: c.busNamespace, maxBytes: c.busMaxBytes, consumerGroup: 'workers', ackWaitMs: c.ackWaitMs,
    replicas: c.busReplicas, trimConsumed: true, onWarning: (msg) => log.warn(msg),
    eventPartitions: c.eventPartitions, ownedPartitions,
    onUndecodable: (subject, err) => log.error({ subject, err }, 'undecodable bus message dropped'),
    onConsumerError: (filter, err) => log.error({ filter, err }, 'bus consumer setup failed; retrying'),
  });
}

/**
 * The alerts stream's own connection (its payloads are alerts, not event batches). Workers publish on it; API
 * processes follow it (live feed) and share one durable consumer for webhook delivery (group `alert-delivery`),
 * whose ack wait outlasts a delivery's retries so that an alert being retried is not handed to another process.
 */
function openAlertBus(c: RoleConfig, log: Logger, ackWaitMs?: number): Promise<JetStreamBus<StoredAlert>> {
  return JetStreamBus.connect<StoredAlert>({
    servers: c.nats.split(','), codec: jsonCodec(), namespace: c.busNamespace, maxBytes: c.busMaxBytes, eventPartitions: c.eventPartitions,
    consumerGroup: 'alert-delivery', ackWaitMs, replicas: c.busReplicas, onWarning: (msg) => log.warn(msg),
    onUndecodable: (subject, err) => log.error({ subject, err }, 'undecodable bus message dropped'),
    onConsumerError: (filter, err) => log.error({ filter, err }, 'alerts consumer failed; retrying'),
  });
}

/**
 * The API process's side of the alerts stream: every process follows `alerts.>` into its live feed (GET /stream
 * on any process shows every alert); automated response and the sinks' outbox take each alert once across the
 * API processes (shared durable consumer, acked once the alert's deliveries are in the outbox in PostgreSQL, whose
 * workers in every API process deliver them; a crash before that naks, and the outbox drops the repeat).
 */
function busAlertFeed(c: RoleConfig, log: Logger, stops: (() => Promise<void>)[]): AlertFeed {
  return {
    async start({ live, once, ackWaitMs }) {
      const bus = await openAlertBus(c, log, ackWaitMs);
      stops.push(() => bus.close());
      const feed = await bus.follow('alerts.>', async (m) => { await live(m.payload); });
      stops.push(() => feed.stop());
      const deliveries = bus.consume('alerts.>', async (batch) => { await Promise.all(batch.map((m) => once(m.payload))); }, { maxBatch: 64, maxWaitMs: 0 });
      stops.push(() => deliveries.stop());
    },
  };
}

/**
 * The control connection (JSON payloads of several kinds): the response relay (commands down on `ir.*.*`,
 * reports up on `ir-reports.>`) and the rule-change notices on `rules._platform`.
 */
function openControlBus(c: RoleConfig, log: Logger): Promise<JetStreamBus<unknown>> {
  return JetStreamBus.connect<unknown>({
    servers: c.nats.split(','), codec: jsonCodec(), namespace: c.busNamespace, maxBytes: c.busMaxBytes, consumerGroup: 'api', eventPartitions: c.eventPartitions,
    replicas: c.busReplicas, onWarning: (msg) => log.warn(msg),
    onUndecodable: (subject, err) => log.error({ subject, err }, 'undecodable bus message dropped'),
    onConsumerError: (filter, err) => log.error({ filter, err }, 'bus consumer failed; retrying'),
  });
}

async function openAlertStore(c: RoleConfig, stops: (() => Promise<void>)[]): Promise<PostgresAlertStore> {
  const alerts = new PostgresAlertStore({ connectionString: c.postgres });
  stops.push(() => alerts.close());
  await alerts.migrate();
  return alerts;
}

async function openIncidentStore(c: RoleConfig, stops: (() => Promise<void>)[]): Promise<PostgresIncidentStore> {
  const incidents = new PostgresIncidentStore({ connectionString: c.postgres });
  stops.push(() => incidents.close());
  await incidents.migrate();
  return incidents;
}

const ruleOptions = (c: RoleConfig, log: Logger, bus: JetStreamBus<unknown>) => ({ log, ruleDirs: c.ruleDirs, placeholders: c.placeholders, postgres: c.postgres, bus });

function openEventStore(c: RoleConfig): ClickHouseEventStore {
  return new ClickHouseEventStore(new ClickHouseHttpEngine({
    url: c.clickhouse, username: c.clickhouseUser, password: c.clickhousePassword, database: c.clickhouseDatabase,
  }), { retentionDays: c.retentionDays });
}

/**
 * The events bus as the worker consumes it: its pinned partitions (`--partitions`, `--worker-count`), all of
 * them when there is one, or else a fair share under partition leases in PostgreSQL (src/bus/leased-partitions.ts).
 */
async function workerBus(c: RoleConfig, bus: JetStreamBus<VigilEvent[]>, log: Logger, stops: (() => Promise<void>)[]): Promise<Bus<VigilEvent[]>> {
  if (c.ownedPartitions || c.eventPartitions === 1) return bus;
  const leases = await PostgresPartitionLeases.open({ connectionString: c.postgres }, {
    pool: `${c.busNamespace || 'vigil'}/workers`, member: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
    leaseMs: c.partitionLeaseMs, partitions: c.eventPartitions,
  });
  stops.push(() => leases.close());
  return new LeasedPartitionBus(bus, leases, { partitions: c.eventPartitions, leaseMs: c.partitionLeaseMs, log });
}

const readIfExists = (path: string): string | undefined => (existsSync(path) ? readFileSync(path, 'utf8') : undefined);


/**
 * /healthz and /readyz (open, nothing tenant-specific); /metrics with the Bearer scrape token only. `warnings`
 * (e.g. ingest's "bus full") make /healthz answer 200 `{"status":"warning","warnings":[…]}` and are listed in
 * /readyz's answer too, whose status code they do not change (docs/scaling.md, "Bus: NATS JetStream").
 */
function startHealth(address: string, ready: () => boolean, metricsToken: string | undefined, warnings: () => string[] = () => []): Promise<{ server: Server; address: string }> {
  const { host, port } = splitHostPort(address);
  const server = createServer((req, res) => {
    const warned = req.url === '/healthz' || req.url === '/readyz' ? warnings() : [];
    const extra = warned.length ? { warnings: warned } : {};
    if (req.url === '/healthz') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: warned.length ? 'warning' : 'ok', ...extra }));
    if (req.url === '/readyz') {
      const ok = ready();
      return void res.writeHead(ok ? 200 : 503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ status: ok ? 'ready' : 'not ready', ...extra }));
    }
    if (req.url === '/metrics') {
      if (!metricsAuthorized(req.headers.authorization, metricsToken)) {
        return void res.writeHead(401, { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer realm="metrics"' }).end('{"status":401,"detail":"metrics need Authorization: Bearer <VIGIL_METRICS_TOKEN>"}');
      }
      return void registry.metrics().then((text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text));
    }
    res.writeHead(404).end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const a = server.address();
      resolve({ server, address: hostPort(host, typeof a === 'object' && a ? a.port : port) });
    });
  });
}

/** The threat-intelligence lists in PostgreSQL (closed with the role). */
async function openIntelStore(c: RoleConfig, stops: (() => Promise<void>)[]): Promise<SqlIntelStore> {
  const store = await openPostgresIntelStore({ connectionString: c.postgres });
  stops.push(() => store.close());
  return store;
}

/** The DLP data sets and fingerprint keys in PostgreSQL (closed with the role). */
async function openDlpStore(c: RoleConfig, stops: (() => Promise<void>)[]): Promise<SqlDlpStore> {
  const store = await openPostgresDlpStore({ connectionString: c.postgres });
  stops.push(() => store.close());
  return store;
}

/** AI-service usage in PostgreSQL (closed with the role), with the catalogue. */
async function openAiUsage(c: RoleConfig, stops: (() => Promise<void>)[]): Promise<{ store: SqlAiUsageStore; catalog: AiServiceCatalog }> {
  const store = await openPostgresAiUsageStore({ connectionString: c.postgres });
  stops.push(() => store.close());
  return { store, catalog: loadAiServices(c.aiServicesFile) };
}

/** Starts the given roles in this process; closes what it opened if a start fails. */
export async function startRoles(roles: RoleName[], c: RoleConfig, log: Logger): Promise<RunningRoles> {
  const stops: (() => Promise<void>)[] = []; // run in reverse order
  const addresses: Record<string, string> = {};
  let accepting = false;
  const healthWarnings: (() => string[])[] = []; // what /healthz reports beside 'ok'
  const stopAll = async () => {
    accepting = false;
    for (const stop of stops.reverse().splice(0)) {
      try { await stop(); } catch (err) { log.error({ err }, 'stop step failed'); }
    }
  };
  // First, so that the threads this process starts from here on inherit it.
  if (roles.includes('worker') && !roles.includes('ingest')) lowerWorkerPriority({ idle: c.workerIdleScheduling, nice: c.workerNice }, log, registry);
  try {
    const metadata = new PostgresMetadataStore({ connectionString: c.postgres });
    stops.push(() => metadata.close());
    await metadata.migrate();
    await metadata.ensureTenant(DEFAULT_TENANT, 'Default tenant');
    await metadata.ensureTenant(PLATFORM_TENANT, 'Platform (super-admins)');
    const events = openEventStore(c);
    stops.push(() => events.close());
    await events.init();

    const alerts = roles.includes('worker') || roles.includes('api') ? await openAlertStore(c, stops) : undefined;
    const incidents = alerts ? await openIncidentStore(c, stops) : undefined;
    let agent: { endpoint: string; caPem: string } | undefined; // this process's ingest role: what agents dial and trust
    let controlBus: Promise<JetStreamBus<unknown>> | undefined;
    // Opened by the first role that needs it, so it closes after that role's consumers have stopped.
    const control = () => (controlBus ??= openControlBus(c, log).then((b) => { stops.push(() => b.close()); return b; }));
    if (alerts && roles.includes('worker')) {
      const bus = await openBus(c, log, eventBatchCodec, c.ownedPartitions);
      stops.push(() => bus.close());
      const alertBus = await openAlertBus(c, log);
      stops.push(() => alertBus.close());
      const consumed = await workerBus(c, bus, log, stops);
      const rulesBus = await control();
      const detection = await workerDetection({
        alerts, incidents: incidents!, alertBus, events, log, rules: (stage) => sharedRules(stage, { ...ruleOptions(c, log, rulesBus), role: 'worker' }),
        ...(consumed instanceof LeasedPartitionBus ? { partitions: () => consumed.heldTerms, partitionOf: (t: string, h: string) => hostPartition(t, h, c.eventPartitions) } : {}),
      });
      stops.push(() => detection.close());
      const intel = await assembleIntel(await openIntelStore(c, stops), detection, log, { gtfobinsDir: c.gtfobinsDir, aiUsage: await openAiUsage(c, stops) });
      stops.push(async () => intel.close());
      const pipeline = new Pipeline({ bus: consumed, store: events, stages: intel.stages, log, maxBatchMessages: c.workerBatch, maxWaitMs: c.pipelineBatchWaitMs });
      pipeline.start();
      stops.push(() => pipeline.stop());
    }
    if (roles.includes('ingest')) {
      // Ahead of the batch work of workers on the same machine (a worker in this process would share it).
      if (!roles.includes('worker')) prioritiseIngestThread(log, registry);
      reportIngestLoopDelay();
      mkdirSync(c.pkiDir, { recursive: true, mode: 0o700 });
      const ca = await loadOrCreateCa(c.pkiDir);
      const grpc = splitHostPort(c.grpc);
      let ingest: IngestServer | undefined;
      const bus = await openBus(c, log, bytesCodec());
      stops.push(() => bus.close());
      // Response commands, policy versions and revocations from the API processes; the agents' reports back.
      const relay = await startAgentRelay(await control(), () => ingest, metadata, log, await openDlpStore(c, stops));
      stops.push(() => relay.stop());
      ingest = new IngestServer({ ca, serverCert: await issueServerCertificate(ca, serverCertificateNames(grpc.host)), metadata, bus: publishingBatches(bus, (s) => busPublishSeconds.observe(s)), log, ...relay.hooks });
      const port = await ingest.listen(hostPort(grpc.host, grpc.port));
      addresses.grpc = hostPort(grpc.host, port);
      agent = { endpoint: dialAddress(grpc.host, port), caPem: ca.certPem };
      const server = ingest;
      healthWarnings.push(() => server.healthWarnings());
      stops.push(() => server.close());
    }
    if (roles.includes('api')) {
      const shared = sharedSettings(c);
      // Identity and the ledger in PostgreSQL; their keys (shared by every API process) next to the PKI.
      // Rate limits in Redis when configured, so every API process counts against the same limits.
      const security = await openApiSecurity({ dataDir: c.pkiDir, postgres: { connectionString: c.postgres }, redisUrl: c.redis,
        rateLimits: rateLimitsOf(c) });
      stops.push(() => security.close());
      const bus = await control();
      const agents = relayAgentLink(bus, relaySender(bus, log), metadata, log);
      const response = await assembleResponse({
        store: openPostgresCommandStore({ connectionString: c.postgres }), artifacts: await PostgresArtifactStore.open({ connectionString: c.postgres }),
      }, { security, send: agents.send, log, config: shared.response });
      stops.push(() => response.close());
      const reports = consumeReports(bus, response.dispatcher, log);
      stops.push(() => reports.stop());
      const rules = await apiRules(ruleOptions(c, log, bus));
      stops.push(() => rules.stop());
      const sinks = await openPostgresAlertSinks({ connectionString: c.postgres }, c.pkiDir);
      stops.push(() => sinks.close());
      const api = await assembleApi({
        ...shared, log, metadata, events, security, response, agents, alerts: alerts!, incidents: incidents!, rules: rules.rules,
        alertFeed: busAlertFeed(c, log, stops), alertSinks: sinks, metricsToken: c.metricsToken, http: c.http, intel: await openIntelStore(c, stops), aiUsage: await openAiUsage(c, stops),
        dlp: await openDlpStore(c, stops),
        agentEndpoint: c.agentEndpoint ?? agent?.endpoint, agentCaPem: agent?.caPem ?? readIfExists(join(c.pkiDir, 'ca.pem')),
      }, splitHostPort);
      addresses.http = api.address;
      stops.push(() => api.close());
    }
    if (!c.metricsToken) log.warn('VIGIL_METRICS_TOKEN is not set: /metrics refuses every scrape');
    const health = await startHealth(c.health, () => accepting, c.metricsToken, () => healthWarnings.flatMap((w) => w()));
    addresses.health = health.address;
    stops.push(() => new Promise<void>((resolve) => health.server.close(() => resolve())));
    accepting = true;
    log.info({ roles, addresses }, 'roles started');
    return { addresses, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
