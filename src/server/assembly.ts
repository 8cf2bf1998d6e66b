// One composition of the server's components for both deployments. Embedded (src/server/embedded.ts) runs every
// role in one process on local backends (SQLite, chdb, the local bus log, the ingest thread); the scale-out roles
// (src/server/roles.ts) run the roles they are given on JetStream, ClickHouse and PostgreSQL. Both choose their
// backends and then call the same functions here, so a feature wired into one is wired into the other:
//
// - the agent link (`AgentLink`): how the API process reaches agents' streams: response commands, policy versions
//   to a tenant's connected agents, the immediate cut of a revoked agent. Embedded: this process's ingest
//   channels; scale-out: the control bus (`ir.<tenant>.<agent>`, `ir.<tenant>._all`), followed by every ingest
//   process (`startAgentRelay`);
// - the ingest side's stream hooks (`agentStreamHooks`): response reports, the tenant's policies sent when a stream
//   opens, policy acknowledgements recorded;
// - the API process (`assembleApi`): response dispatcher with its configuration (expiry, two-person approval),
//   automated response, alert fan-out (live feed in every API process; automated response and the sinks' durable
//   outbox once per alert, delivered by the outbox workers of every API process), policy push and revocation
//   through the agent link, the REST API with its agent endpoint and CA;
// - the detection side (`assembleDetection`): the pipeline's detection stage with its process index (seeded from
//   the event store: every host at start embedded, each host on first sight in a worker) and the alert sink that
//   stores, groups into incidents and announces (in-process listeners embedded; `alerts.<tenant>` scale-out);
// - the server certificate's names (`serverCertificateNames`) and HOST:PORT forms (`hostPort`, `dialAddress`).

import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { AlertDispatcher, type DeliveryOptions } from '../alerts/dispatcher.ts';
import type { AlertSinkStore, OutboxStore } from '../alerts/sink.ts';
import { LiveFeed } from '../api/live-feed.ts';
import { alertView } from '../api/routes/alerts.ts';
import { alertStoreRisk, riskOnAlert } from '../api/risk.ts';
import { IntelStage } from '../intel/stage.ts';
import { AiUsageStage, type AiUsageStore } from '../intel/ai-usage.ts';
import type { AiServiceCatalog } from '../intel/ai-services.ts';
import type { AiUsageApi } from '../api/routes/ai-usage.ts';
import type { SqlIntelStore } from '../stores/intel/sql-intel-store.ts';
import type { SqlDlpStore } from '../stores/dlp/sql-dlp-store.ts';
import { loadGtfobins } from './gtfobins.ts';
import { startIntelLoader, startIntelPoller } from './intel.ts';
import type { ApiSecurity } from '../api/security.ts';
import { buildApi, type ApiOptions } from '../api/server.ts';
import type { Bus, BusMessage } from '../bus/types.ts';
import type { Alert, AlertSink } from '../detect/alerts.ts';
import { DetectionStage } from '../detect/stage.ts';
import type { RuleService } from '../detect/rule-service.ts';
import type { AgentIdentity } from '../pki/pki.ts';
import { AutoResponder, type AutoResponsePolicy } from '../response/automation.ts';
import type { AgentSender, ResponseConfig } from '../response/dispatcher.ts';
import type { RelayBus } from '../response/relay.ts';
import { startIngestRelay } from '../response/relay.ts';
import type { ArtifactStore } from '../response/artifacts.ts';
import { startResponseService, type ResponseIngestHooks, type ResponseService } from '../response/service.ts';
import type { CommandStore } from '../response/command-store.ts';
import type { DatasetRequest, PolicyAck, WirePolicy } from '../schema/wire.ts';
import { isDeliverable, type AlertStore, type StoredAlert } from '../stores/alerts/types.ts';
import type { HuntLimits } from '../stores/events/hunt.ts';
import type { EventStore } from '../stores/events/types.ts';
import type { IncidentStore } from '../stores/incidents/types.ts';
import type { MetadataStore, PolicyRecord } from '../stores/metadata/types.ts';
import { recordAncestry } from '../tree/ancestry.ts';
import { LiveProcessIndex } from '../tree/live-index.ts';
import type { VigilEvent } from '../schema/event.ts';
import type { AuditSink } from '../ledger/sink.ts';
import type { AgentChannel, IngestOptions } from './ingest.ts';
import { groupStored, storedViews } from './incident-assign.ts';
import type { PipelineStage } from './pipeline.ts';
import { PolicyPush } from './policy-push.ts';
import { DatasetDelivery, type DatasetSource } from './dlp-delivery.ts';

/** The settings that mean the same in both deployments (`vigil up` and the roles: README configuration table). */
export interface SharedSettings {
  /** Response actions: expiry (commandTtlMs) and two-person approval of isolation. */
  response?: ResponseConfig;
  /** Automated response (rules that name a response): off unless enabled here. */
  autoResponse?: Partial<AutoResponsePolicy>;
  /** Alert webhooks may target loopback, private, link-local and metadata addresses (default false: SSRF guard). */
  allowPrivateAlertSinks?: boolean;
  /** Alert delivery through the outbox: attempts, backoff, breaker, timeouts (tests shorten them). */
  alertDelivery?: Omit<DeliveryOptions, 'allowPrivateTargets'>;
  hunt?: Partial<HuntLimits>;
}

/** HOST:PORT with an IPv6 host in brackets. */
export const hostPort = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;

/** HOST:PORT as agents dial it: an unspecified listen address (0.0.0.0, ::) is advertised as this machine's hostname (in the server certificate). */
export function dialAddress(host: string, port: number): string {
  const h = host === '' || host === '0.0.0.0' || host === '::' ? hostname() : host;
  return hostPort(h, port);
}

/** The names of the agent endpoint's certificate: loopback, this machine's hostname and the listen host (unless unspecified). */
export function serverCertificateNames(grpcHost: string): string[] {
  return [...new Set(['localhost', '127.0.0.1', '::1', hostname(), grpcHost].filter((n) => n && n !== '0.0.0.0' && n !== '::'))];
}

// ---- the agent link: API process → agents' streams ----

/** How the API process reaches agents' open streams. */
export interface AgentLink {
  /** A response message down the agent's stream (true when written here; false: confirmed later, or offline). */
  send: AgentSender;
  /** A stored policy version: to every connected agent of its tenant. */
  policyStored(p: PolicyRecord): void;
  /** The agent's certificate was revoked: its open stream is cut at once. */
  revoked(agentId: string): void;
  /** Whether the agent's stream is open in this process (embedded); absent: the heartbeat decides. */
  isConnected?: (agentId: string) => boolean;
}

/** What the agent link and relay need of an ingest server (IngestServer, or the ingest thread). */
export interface AgentStreams {
  channels: ReadonlyMap<string, AgentChannel>;
  disconnect(agentId: string, details: string): boolean;
}

export const REVOKED_DETAILS = 'agent certificate revoked';

/** Embedded: the streams of this process's ingest (created after the link: `streams()` is read on use). */
export function localAgentLink(streams: () => AgentStreams | undefined, policies: () => PolicyPush | undefined): AgentLink {
  return {
    // Only down the stream of that agent in that tenant: a command never reaches another tenant's agent.
    send: ({ tenantId, agentId }, msg) => {
      const c = streams()?.channels.get(agentId);
      if (!c || c.identity.tenantId !== tenantId) return false;
      c.send(msg);
      return true;
    },
    policyStored: (p) => policies()?.published(p),
    revoked: (agentId) => { streams()?.disconnect(agentId, REVOKED_DETAILS); },
    isConnected: (agentId) => streams()?.channels.has(agentId) ?? false,
  };
}

/** Control messages on the command subjects, for the ingest processes rather than an agent. */
type AgentControl = { control: 'policy'; policy: WirePolicy } | { control: 'revoked' };
/** The agent token of a tenant-wide control message (`ir.<tenant>._all`); agent ids are UUIDs. */
const ALL_AGENTS = '_all';

const isControl = (v: unknown): v is AgentControl => typeof v === 'object' && v !== null && 'control' in v;

/**
 * Scale-out: response messages through the relay's sender; policy versions and revocations as control messages on
 * the command subjects, which every ingest process follows (startAgentRelay). A lost control message is not
 * fatal: an agent receives its tenant's latest policies at every reconnect, and a revoked agent is refused then.
 */
export function relayAgentLink(bus: RelayBus, send: AgentSender, metadata: Pick<MetadataStore, 'getAgent'>, log: Logger): AgentLink {
  const publish = (subject: string, payload: AgentControl) =>
    bus.publish({ subject, id: crypto.randomUUID(), payload }).catch((err: unknown) => log.error({ err, subject }, 'agent control message not published'));
  return {
    send,
    policyStored: (p) => {
      void publish(`ir.${p.tenantId}.${ALL_AGENTS}`, { control: 'policy', policy: { name: p.name, version: p.version, document_json: p.document } });
    },
    revoked: (agentId) => {
      void metadata.getAgent(agentId).then((h) => h && publish(`ir.${h.tenantId}.${agentId}`, { control: 'revoked' }),
        (err: unknown) => log.error({ err, agentId }, 'revoked agent not looked up; its stream is cut at its next reconnect'));
    },
  };
}

// ---- the ingest side ----

/** The hooks of ingest's agent streams, the same in both deployments: response reports, policies on connect, acks. */
export function agentStreamHooks(response: ResponseIngestHooks, policies: PolicyPush, log: Logger): Pick<IngestOptions, 'onAgentConnected' | 'onCommandResult' | 'onArtifactChunk' | 'onPolicyAck' | 'onDatasetRequest'> {
  return {
    ...response,
    onAgentConnected: (a: AgentIdentity) => {
      response.onAgentConnected(a);
      policies.onAgentConnected(a).catch((err: unknown) => log.error({ err, agentId: a.agentId }, 'policy push failed'));
    },
    onPolicyAck: (a: AgentIdentity, ack: PolicyAck) => {
      policies.onAck(a, ack).catch((err: unknown) => log.error({ err, agentId: a.agentId }, 'policy acknowledgement not recorded'));
    },
    onDatasetRequest: (a: AgentIdentity, req: DatasetRequest) => {
      policies.onDatasetRequest(a, req).catch((err: unknown) => log.error({ err, agentId: a.agentId, dataset: req.id }, 'DLP data set not sent'));
    },
  };
}

/** Policy push on ingest's streams (which may be created after it: `streams()` is read on use). */
export function streamPolicies(streams: () => AgentStreams | undefined, metadata: MetadataStore, log: Logger, datasets?: DatasetSource): PolicyPush {
  const channels = { get: (id: string) => streams()?.channels.get(id), values: () => (streams()?.channels ?? new Map<string, AgentChannel>()).values() };
  return new PolicyPush({ metadata, channels, log, ...(datasets ? { datasets: new DatasetDelivery(datasets) } : {}) });
}

/**
 * The ingest role's end of the control bus: the response relay (src/response/relay.ts) plus the agent control
 * messages of `relayAgentLink` (policy versions to this process's streams of the tenant; a revoked agent's stream
 * cut, after the metadata confirms the revocation), and the stream hooks of `agentStreamHooks`.
 */
export async function startAgentRelay(bus: RelayBus, streams: () => AgentStreams | undefined, metadata: MetadataStore, log: Logger, datasets?: DatasetSource): Promise<{ hooks: ReturnType<typeof agentStreamHooks>; stop(): Promise<void> }> {
  const policies = streamPolicies(streams, metadata, log, datasets);
  const control = async (m: BusMessage<unknown>, c: AgentControl): Promise<void> => {
    const [, tenantId, agentId] = m.subject.split('.').slice(-3);
    if (c.control === 'policy') {
      if (!tenantId) return;
      policies.published({ tenantId, name: c.policy.name, version: c.policy.version, document: c.policy.document_json });
      return;
    }
    const s = streams();
    const open = agentId ? s?.channels.get(agentId) : undefined;
    if (!open || open.identity.tenantId !== tenantId) return;
    const host = await metadata.getAgent(agentId!);
    if (host?.revoked) s!.disconnect(agentId!, REVOKED_DETAILS);
  };
  const controlAware: RelayBus = {
    publish: (msg) => bus.publish(msg),
    consume: (filter, handler, opts) => bus.consume(filter, handler, opts),
    follow: (filter, handler) => bus.follow(filter, (m) => (isControl(m.payload) ? control(m, m.payload) : handler(m))),
  };
  const relay = await startIngestRelay(controlAware, (agentId) => streams()?.channels.get(agentId), log);
  return { hooks: agentStreamHooks(relay.hooks, policies, log), stop: () => relay.stop() };
}

// ---- the API process ----

/** Where the API process's alerts come from. */
export interface AlertFeed {
  /**
   * Starts both: `live` with every new deliverable alert in every API process (the live feed); `once` with every
   * new deliverable alert once across the API processes (automated response; the alert queued in the sinks'
   * outbox, whose workers in every API process deliver it), settled once it is in the outbox, to be handed again
   * if not settled within `ackWaitMs`.
   */
  start(o: { live: (a: StoredAlert) => void; once: (a: StoredAlert) => Promise<void>; ackWaitMs: number }): Promise<void>;
  /**
   * Set when the feed forgets an alert the process dies before queuing (embedded: in-process listeners): at start
   * and every few minutes, the deliverable alerts last seen within this window that were never handed to the outbox
   * are queued (the outbox's mark, written with its rows, says which were). Not set when the feed hands such an
   * alert again itself (the bus: acknowledged once queued).
   */
  catchUpMs?: number;
}

/** The response service's backends (the dispatcher is assembled here, with the shared settings). */
export interface ResponseBackends {
  store: CommandStore;
  artifacts: ArtifactStore;
  /** Closed with the service (embedded: a ledger of its own when `audit` was given). */
  close?: () => Promise<void>;
}

/** Starts the response dispatcher on `backends` with the shared settings (expiry, two-person approval). */
export async function assembleResponse(backends: ResponseBackends, o: { security: ApiSecurity; audit?: AuditSink; send: AgentSender; log: Logger; config?: ResponseConfig }): Promise<ResponseService> {
  const service = await startResponseService({
    store: backends.store, artifacts: backends.artifacts, audit: o.audit ?? o.security.ledger, send: o.send, log: o.log, config: o.config,
    ownerOf: (tenantId, actor) => o.security.auth.ownerOf(tenantId, actor),
  });
  return { ...service, async close() { await service.close(); await backends.close?.(); } };
}

export interface ApiAssembly extends Omit<SharedSettings, 'response'> {
  log: Logger;
  metadata: MetadataStore;
  events: EventStore;
  security: ApiSecurity;
  response: ResponseService;
  agents: AgentLink;
  alerts: AlertStore;
  incidents: IncidentStore;
  rules: RuleService;
  alertFeed: AlertFeed;
  /** The sinks and their outbox, in the metadata store's database (src/stores/alert-sinks/). */
  alertSinks: AlertSinkStore & OutboxStore;
  liveProcesses?: LiveProcessIndex;
  defaultTenant?: string;
  metricsToken?: string;
  agentEndpoint?: string;
  agentCaPem?: string;
  /** Threat-intelligence lists: managed by the API, URL lists polled by it (src/server/intel.ts). */
  intel?: SqlIntelStore;
  /** DLP data sets and the tenants' fingerprint keys (src/stores/dlp/). */
  dlp?: SqlDlpStore;
  /** AI-service usage findings and policies, and the catalogue that names the services. */
  aiUsage?: AiUsageApi;
  /** HOST:PORT the REST API listens on. */
  http: string;
  /** Told of every JSON answer before it is serialised (tests: ApiOptions.onAnswer). */
  onAnswer?: ApiOptions['onAnswer'];
}

export interface AssembledApi {
  liveFeed: LiveFeed;
  /** The bound address, HOST:PORT. */
  address: string;
  host: string;
  port: number;
  /** Stops the API, then alert delivery (the alert sinks and response service are the caller's). */
  close(): Promise<void>;
}

/** How long an alert handed to `once` may take to reach the outbox before another API process is handed it. */
const ALERT_ACK_WAIT_MS = 30_000;
/** How often a feed that forgets alerts on a crash is caught up after the start (AlertFeed.catchUpMs). */
const CATCH_UP_EVERY_MS = 5 * 60_000;
/** Alerts read per page when catching up. */
const CATCH_UP_PAGE = 500;

/**
 * Queues every deliverable alert last seen within `windowMs` (every tenant) that was never handed to the outbox;
 * not beyond the retention of the outbox's marks, which would make delivered alerts look never queued.
 */
async function catchUpDeliveries(o: Pick<ApiAssembly, 'metadata' | 'alerts' | 'log'>, delivery: AlertDispatcher, windowMs: number): Promise<void> {
  const from = new Date(Date.now() - Math.min(windowMs, delivery.markRetentionMs));
  let queued = 0;
  for (const { id: tenantId } of await o.metadata.listTenants()) {
    let cursor: string | undefined;
    do {
      const page = await o.alerts.list({ tenantId, from, limit: CATCH_UP_PAGE, cursor });
      queued += await delivery.catchUp(tenantId, page.alerts.filter(isDeliverable).map(alertView));
      cursor = page.next ?? undefined;
    } while (cursor);
  }
  if (queued) o.log.info({ queued }, 'alert delivery caught up');
}

/** Catches up now and then every CATCH_UP_EVERY_MS until stopped (errors logged, tried again at the next turn). */
function startCatchUp(o: Pick<ApiAssembly, 'metadata' | 'alerts' | 'log'>, delivery: AlertDispatcher, windowMs: number): { first: Promise<void>; stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  const turn = () => catchUpDeliveries(o, delivery, windowMs).catch((err: unknown) => o.log.error({ err }, 'alert delivery not caught up; trying again later'));
  const next = () => { timer = setTimeout(() => void turn().finally(next), CATCH_UP_EVERY_MS); timer.unref(); };
  const first = turn().finally(next);
  return { first, stop: () => clearTimeout(timer) };
}

/** The API process: alert fan-out, automated response, REST API wired to the agent link; listening on `o.http`. */
export async function assembleApi(o: ApiAssembly, splitHostPort: (s: string) => { host: string; port: number }): Promise<AssembledApi> {
  const liveFeed = new LiveFeed();
  const risk = alertStoreRisk(o.alerts);
  const poller = o.intel && startIntelPoller(o.intel, { log: o.log, allowPrivate: o.allowPrivateAlertSinks ?? false });
  const delivery = new AlertDispatcher({ sinks: o.alertSinks, outbox: o.alertSinks, log: o.log }, { ...o.alertDelivery, allowPrivateTargets: o.allowPrivateAlertSinks ?? false });
  const autoResponder = new AutoResponder(o.response.dispatcher, o.autoResponse ?? {});
  let catchUp: ReturnType<typeof startCatchUp> | undefined;
  const autoRespond = (a: StoredAlert) => {
    if (!a.rule.response) return;
    autoResponder.onAlert(a, a.rule.response).then(
      (r) => { if ('skipped' in r) o.log.info({ alert: a.id, rule: a.rule.id, reason: r.skipped }, 'automated response not run'); },
      (err: unknown) => o.log.error({ err, alert: a.id }, 'automated response failed'));
  };
  try {
    await o.alertFeed.start({
      live: (a) => { liveFeed.publish('alert', a.tenant_id, alertView(a)); riskOnAlert(risk, a); },
      once: async (a) => {
        autoRespond(a);
        await delivery.enqueue(alertView(a));
      },
      ackWaitMs: ALERT_ACK_WAIT_MS,
    });
    delivery.start();
    catchUp = o.alertFeed.catchUpMs === undefined ? undefined : startCatchUp(o, delivery, o.alertFeed.catchUpMs);
    await catchUp?.first;
  } catch (err) {
    catchUp?.stop();
    await delivery.close();
    throw err;
  }
  const api = buildApi({
    metadata: o.metadata, events: o.events, log: o.log, security: o.security, liveFeed, hunt: o.hunt, defaultTenant: o.defaultTenant,
    isConnected: o.agents.isConnected, response: o.response.dispatcher,
    agentEndpoint: o.agentEndpoint, agentCaPem: o.agentCaPem,
    onPolicyStored: (p) => o.agents.policyStored(p), onAgentRevoked: (id) => o.agents.revoked(id),
    alertSinks: { store: o.alertSinks, outbox: o.alertSinks, dispatcher: delivery }, allowPrivateAlertSinks: o.allowPrivateAlertSinks ?? false,
    alerts: o.alerts, incidents: o.incidents, rules: o.rules, liveProcesses: o.liveProcesses, metricsToken: o.metricsToken, risk,
    intel: o.intel && poller && { store: o.intel, pollNow: () => void poller.pollNow(), allowPrivateUrls: o.allowPrivateAlertSinks ?? false }, aiUsage: o.aiUsage,
    dlp: o.dlp && { store: o.dlp },
    onAnswer: o.onAnswer,
  });
  const http = splitHostPort(o.http);
  try {
    await api.listen({ host: http.host, port: http.port });
  } catch (err) {
    catchUp?.stop();
    await delivery.close();
    throw err;
  }
  const a = api.server.address();
  const port = typeof a === 'object' && a ? a.port : http.port;
  return {
    liveFeed, host: http.host, port, address: hostPort(http.host, port),
    async close() {
      poller?.stop();
      catchUp?.stop();
      await api.close();
      await delivery.close();
    },
  };
}

// ---- the detection side: the pipeline's detection stage and the alert sink ----

/** How newly stored alerts are announced: in-process listeners (embedded) or `alerts.<tenant>` (scale-out). */
export interface AlertAnnouncement {
  /**
   * Whether a failure of the sink (store, grouping, announcing) fails the batch, which is then redelivered, so
   * announcing must tolerate repeats (the bus: JetStream drops a repeated message id). Otherwise (listeners) a
   * grouping failure is logged and the stage's failure is logged by the pipeline.
   */
  required: boolean;
  /** `fresh`: the deliverable alerts the store did not hold before; `stored`: every deliverable alert of the batch as stored. */
  announce(o: { fresh: StoredAlert[]; stored: StoredAlert[] }): Promise<void>;
}

/** Embedded: the listeners are told of new alerts only (nothing in-process is told twice). */
export function listenerAnnouncement(): AlertAnnouncement & { onAlert(listener: (a: StoredAlert) => void): void } {
  const listeners: ((a: StoredAlert) => void)[] = [];
  return {
    required: false,
    onAlert: (l) => { listeners.push(l); },
    async announce({ fresh }) {
      for (const a of fresh) for (const l of listeners) l(a);
    },
  };
}

/**
 * Scale-out: every deliverable alert of the batch (new or already stored: the batch may be redelivered after a
 * crash between write and publish) on its tenant's subject. The message id names the tenant: alert ids are unique
 * per tenant only, and JetStream drops a repeated id within its duplicate window, so another tenant's alert of the
 * same id must not silence this one.
 */
export function busAnnouncement(bus: Pick<Bus<StoredAlert>, 'publish'>): AlertAnnouncement {
  return {
    required: true,
    async announce({ stored }) {
      await Promise.all(stored.map((a) => bus.publish({ subject: `alerts.${a.tenant_id}`, id: `${a.tenant_id}/${a.id}`, payload: a })));
    },
  };
}

/** How the detection stage's process index learns the processes alive before this process started. */
export type ProcessSeeding =
  /** Every known host, before the pipeline starts (embedded: the API's live process tree reads the same index). */
  | { atStart: Pick<MetadataStore, 'listTenants' | 'listHosts'> }
  /**
   * Each host when its events first reach this process, from the event store (which holds the batch already: the
   * pipeline stores before its stages run). With `partitions` (the host partitions this process consumes now, each
   * with the lease term in which it was taken) and `partitionOf`, a host whose partition went away is forgotten, and
   * seeded again when its partition comes back (another worker saw its events meanwhile) — also when it went and came
   * back between two batches: its term changed.
   */
  | { onFirstSight: { partitions?: () => ReadonlyMap<number, number>; partitionOf?: (tenant: string, host: string) => number } };

/** Live processes read per host when seeding (as many as the index keeps per host). */
const SEED_PROCESSES = 100_000;
/** Hosts seeded at once on first sight. */
const SEED_CONCURRENCY = 8;

export interface DetectionBackends {
  alerts: AlertStore;
  incidents: IncidentStore;
  /** The rule service over `stage` on the deployment's rule state store (embedded: SQLite; scale-out: the shared state). */
  rules(stage: DetectionStage): Promise<{ rules: RuleService; stop(): Promise<void> }>;
  announcement: AlertAnnouncement;
  /** Where the process index is seeded from, and when. */
  events: Pick<EventStore, 'processNodes'>;
  seeding: ProcessSeeding;
  /** Closed after the rules stop (the stores when they are the detection side's own). */
  close?: () => Promise<void>;
}

export interface AssembledDetection {
  /** The pipeline stage (required when the announcement is). */
  stage: PipelineStage;
  detection: DetectionStage;
  rules: RuleService;
  /** The process index the stage keeps current and takes alert lineage from. */
  processes: LiveProcessIndex;
  /** Where the stage's alerts go (stored, grouped, announced): other alerting stages write here too. */
  sink: AlertSink;
  alerts: AlertStore;
  incidents: IncidentStore;
  close(): Promise<void>;
}

/**
 * The detection side of both deployments: the detection stage with its process index (seeded), and the alert sink
 * that stores the alerts (excepted ones stored, never delivered), groups every stored deliverable alert of the batch
 * into incidents and announces the deliverable ones.
 */
export async function assembleDetection(b: DetectionBackends, log: Logger): Promise<AssembledDetection> {
  const processes = new LiveProcessIndex();
  const { required } = b.announcement;
  const sink: AlertSink = {
    async write(batch: Alert[]) {
      const fresh = await b.alerts.write(batch);
      const stored = await storedViews(b.alerts, batch, fresh);
      // Incidents: every stored alert of the batch is grouped (repeats only widen the incident that holds them).
      // Required: a failure fails the batch, whose redelivery groups what is not yet; else it is logged.
      await groupStored(b.incidents, stored).catch((err: unknown) => {
        if (required) throw err;
        log.error({ err }, 'alerts not grouped into incidents');
      });
      await b.announcement.announce({
        fresh: fresh.filter(isDeliverable),
        stored: stored.filter((a): a is StoredAlert => a !== undefined && isDeliverable(a)),
      });
    },
  };
  const detection = new DetectionStage({ rules: [], correlations: [] }, sink, processes);
  if ('atStart' in b.seeding) await seedAllHosts(processes, b.seeding.atStart, b.events);
  const seeder = 'onFirstSight' in b.seeding ? firstSightSeeder(processes, b.events, b.seeding.onFirstSight, log) : undefined;
  let rules: Awaited<ReturnType<DetectionBackends['rules']>>;
  try {
    rules = await b.rules(detection);
  } catch (err) {
    await b.close?.();
    throw err;
  }
  const stage: PipelineStage = {
    name: detection.name, required,
    // Before the batch is stored: hosts seen first are seeded (a worker), then each process start records its
    // ancestors as the index knows them (src/tree/ancestry.ts), so the process endpoint reads a lineage at once.
    // Seeding again in `process` does nothing for a host already seeded (it is for callers without beforeStore).
    async beforeStore(events) {
      await seeder?.(events);
      recordAncestry(processes, events);
      detection.tag(events); // the matched rules' MITRE techniques, stored with the events
    },
    async process(events) {
      await seeder?.(events);
      await detection.process(events);
    },
  };
  return {
    stage, detection, rules: rules.rules, processes, sink, alerts: b.alerts, incidents: b.incidents,
    async close() {
      await rules.stop();
      await b.close?.();
    },
  };
}

/** The live processes of every known host, from the store (before the pipeline applies newer events). */
async function seedAllHosts(index: LiveProcessIndex, metadata: Pick<MetadataStore, 'listTenants' | 'listHosts'>, events: Pick<EventStore, 'processNodes'>): Promise<void> {
  const now = new Date();
  for (const tenant of await metadata.listTenants()) {
    for (const h of await metadata.listHosts(tenant.id)) index.seed(tenant.id, h.id, await events.processNodes(tenant.id, h.id, now, SEED_PROCESSES));
  }
}

/** Seeds each host of a batch not seeded yet (see ProcessSeeding); a failed read is logged and tried at the host's next batch. */
function firstSightSeeder(index: LiveProcessIndex, events: Pick<EventStore, 'processNodes'>, o: { partitions?: () => ReadonlyMap<number, number>; partitionOf?: (tenant: string, host: string) => number }, log: Logger): (batch: VigilEvent[]) => Promise<void> {
  /** Seeded hosts, with the term of their partition when seeded (0 without partitions). */
  const seeded = new Map<string, { tenant: string; host: string; term: number }>();
  const termOf = (held: ReadonlyMap<number, number> | undefined, tenant: string, host: string) =>
    (held && o.partitionOf ? held.get(o.partitionOf(tenant, host)) : 0);
  let lastHeld = '';
  const followPartitions = (held: ReadonlyMap<number, number> | undefined) => {
    const now = held ? [...held].join(';') : '';
    if (now === lastHeld) return; // terms only grow: the same text means the same partitions in the same terms
    lastHeld = now;
    for (const [key, h] of seeded) {
      if (termOf(held, h.tenant, h.host) === h.term) continue;
      seeded.delete(key); // gone, or back after another worker held it: forgotten, seeded at its next batch
      index.forget(h.tenant, h.host);
    }
  };
  return async (batch) => {
    const held = o.partitions && o.partitionOf ? o.partitions() : undefined;
    followPartitions(held);
    const fresh = new Map<string, { tenant: string; host: string }>();
    for (const e of batch) {
      const tenant = e.agent?.tenant_id;
      const host = e.agent?.id;
      if (!tenant || !host) continue;
      const key = `${tenant}\u0000${host}`;
      if (!seeded.has(key) && !fresh.has(key)) fresh.set(key, { tenant, host });
    }
    const todo = [...fresh];
    const at = new Date();
    await Promise.all(Array.from({ length: Math.min(SEED_CONCURRENCY, todo.length) }, async () => {
      for (let next = todo.shift(); next; next = todo.shift()) {
        const [key, h] = next;
        try {
          index.seed(h.tenant, h.host, await events.processNodes(h.tenant, h.host, at, SEED_PROCESSES));
          const term = termOf(held, h.tenant, h.host);
          if (term !== undefined) seeded.set(key, { ...h, term });
        } catch (err) {
          log.warn({ err, tenant: h.tenant, host: h.host }, 'live processes not read from the event store; alert lineage may be short until the next try');
        }
      }
    }));
  };
}

// ---- threat intelligence: the pipeline's intel stage ----

export interface AssembledIntel {
  /** The pipeline's stages in order: GTFOBins enrichment (when configured), detection, threat intelligence, AI-service usage. */
  stages: PipelineStage[];
  intel: IntelStage;
  close(): void;
}

/** Where the enrichment of both deployments reads its data (README configuration table). */
export interface EnrichmentSettings {
  /** A GTFOBins checkout (or its _gtfobins directory): functions on process events. */
  gtfobinsDir?: string;
  /** AI-service usage: findings recorded in `store` (policy there too), services from `catalog`. */
  aiUsage?: { store: AiUsageStore; catalog: AiServiceCatalog };
}

/**
 * The pipeline's stages around detection: GTFOBins functions put on process events before they are stored, and the
 * intel stage on the lists the loader keeps current from `store`, alerting through the detection side's sink (as
 * required as the detection stage: the same sink).
 */
export async function assembleIntel(store: SqlIntelStore, detection: Pick<AssembledDetection, 'stage' | 'sink' | 'processes'>, log: Logger, o: EnrichmentSettings & { reloadMs?: number } = {}): Promise<AssembledIntel> {
  const gtfobins = o.gtfobinsDir ? loadGtfobins(o.gtfobinsDir, log) : undefined;
  const loader = startIntelLoader(store, log, o.reloadMs);
  await loader.sync().catch((err: unknown) => log.warn({ err }, 'intel lists not read at start; retried'));
  const intel = new IntelStage({ lists: loader.lists, sink: detection.sink, processes: detection.processes });
  const enrich: PipelineStage[] = gtfobins ? [{ name: 'gtfobins', beforeStore: async (events) => gtfobins.enrich(events), process: async () => {} }] : [];
  // Not required: a failed recording loses that batch's findings rather than count a redelivered batch twice.
  const ai = o.aiUsage && new AiUsageStage({ ...o.aiUsage, sink: detection.sink });
  const aiStages: PipelineStage[] = ai ? [{ name: ai.name, process: (events) => ai.process(events) }] : [];
  return {
    stages: [...enrich, detection.stage, { name: intel.name, required: detection.stage.required, process: (events) => intel.process(events) }, ...aiStages],
    intel, close: () => loader.stop(),
  };
}
