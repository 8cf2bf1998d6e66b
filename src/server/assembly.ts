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
//   automated response, alert fan-out (live feed in every API process, webhooks and automated response once per
//   alert), policy push and revocation through the agent link, the REST API with its agent endpoint and CA;
// - the server certificate's names (`serverCertificateNames`) and HOST:PORT forms (`hostPort`, `dialAddress`).

import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { AlertDelivery, type DeliveryOptions } from '../alerts/delivery.ts';
import type { AlertSinkStore } from '../alerts/sink-store.ts';
import { LiveFeed } from '../api/live-feed.ts';
import { alertView } from '../api/routes/alerts.ts';
import type { ApiSecurity } from '../api/security.ts';
import { buildApi } from '../api/server.ts';
import type { BusMessage } from '../bus/types.ts';
import type { RuleService } from '../detect/rule-service.ts';
import type { AgentIdentity } from '../pki/pki.ts';
import { AutoResponder, type AutoResponsePolicy } from '../response/automation.ts';
import type { AgentSender, ResponseConfig } from '../response/dispatcher.ts';
import type { RelayBus } from '../response/relay.ts';
import { startIngestRelay } from '../response/relay.ts';
import type { ArtifactStore } from '../response/artifacts.ts';
import { startResponseService, type ResponseIngestHooks, type ResponseService } from '../response/service.ts';
import type { CommandStore } from '../response/store.ts';
import type { PolicyAck, WirePolicy } from '../schema/wire.ts';
import type { AlertStore, StoredAlert } from '../stores/alerts/types.ts';
import type { HuntLimits } from '../stores/events/hunt.ts';
import type { EventStore } from '../stores/events/types.ts';
import type { IncidentStore } from '../stores/incidents/types.ts';
import type { MetadataStore, PolicyRecord } from '../stores/metadata/types.ts';
import type { LiveProcessIndex } from '../tree/live-index.ts';
import type { AuditSink } from '../ledger/sink.ts';
import type { AgentChannel, IngestOptions } from './ingest.ts';
import { PolicyPush } from './policy-push.ts';

/** The settings that mean the same in both deployments (`vigil up` and the roles: README configuration table). */
export interface SharedSettings {
  /** Response actions: expiry (commandTtlMs) and two-person approval of isolation. */
  response?: ResponseConfig;
  /** Automated response (rules that name a response): off unless enabled here. */
  autoResponse?: Partial<AutoResponsePolicy>;
  /** Alert webhooks may target loopback, private, link-local and metadata addresses (default false: SSRF guard). */
  allowPrivateAlertSinks?: boolean;
  /** Webhook delivery of alerts: queue bound, attempts, backoff (tests shorten it). */
  alertDelivery?: Omit<DeliveryOptions, 'store' | 'log' | 'allowPrivateTargets'>;
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
export function agentStreamHooks(response: ResponseIngestHooks, policies: PolicyPush, log: Logger): Pick<IngestOptions, 'onAgentConnected' | 'onCommandResult' | 'onArtifactChunk' | 'onPolicyAck'> {
  return {
    ...response,
    onAgentConnected: (a: AgentIdentity) => {
      response.onAgentConnected(a);
      policies.onAgentConnected(a).catch((err: unknown) => log.error({ err, agentId: a.agentId }, 'policy push failed'));
    },
    onPolicyAck: (a: AgentIdentity, ack: PolicyAck) => {
      policies.onAck(a, ack).catch((err: unknown) => log.error({ err, agentId: a.agentId }, 'policy acknowledgement not recorded'));
    },
  };
}

/** Policy push on ingest's streams (which may be created after it: `streams()` is read on use). */
export function streamPolicies(streams: () => AgentStreams | undefined, metadata: MetadataStore, log: Logger): PolicyPush {
  const channels = { get: (id: string) => streams()?.channels.get(id), values: () => (streams()?.channels ?? new Map<string, AgentChannel>()).values() };
  return new PolicyPush({ metadata, channels, log });
}

/**
 * The ingest role's end of the control bus: the response relay (src/response/relay.ts) plus the agent control
 * messages of `relayAgentLink` (policy versions to this process's streams of the tenant; a revoked agent's stream
 * cut, after the metadata confirms the revocation), and the stream hooks of `agentStreamHooks`.
 */
export async function startAgentRelay(bus: RelayBus, streams: () => AgentStreams | undefined, metadata: MetadataStore, log: Logger): Promise<{ hooks: ReturnType<typeof agentStreamHooks>; stop(): Promise<void> }> {
  const policies = streamPolicies(streams, metadata, log);
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
   * new deliverable alert once across the API processes (webhooks, automated response), to be redelivered if not
   * settled within `ackWaitMs`. `queued`: `once` may return before delivery is final (embedded: the delivery
   * queue); otherwise it settles when it is.
   */
  start(o: { live: (a: StoredAlert) => void; once: (a: StoredAlert) => Promise<void>; ackWaitMs: number }): Promise<void>;
  queued: boolean;
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
  alertSinks: AlertSinkStore;
  liveProcesses?: LiveProcessIndex;
  defaultTenant?: string;
  metricsToken?: string;
  agentEndpoint?: string;
  agentCaPem?: string;
  /** HOST:PORT the REST API listens on. */
  http: string;
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

/** The API process: alert fan-out, automated response, REST API wired to the agent link; listening on `o.http`. */
export async function assembleApi(o: ApiAssembly, splitHostPort: (s: string) => { host: string; port: number }): Promise<AssembledApi> {
  const liveFeed = new LiveFeed();
  const delivery = new AlertDelivery({ store: o.alertSinks, log: o.log, ...o.alertDelivery, allowPrivateTargets: o.allowPrivateAlertSinks ?? false });
  const autoResponder = new AutoResponder(o.response.dispatcher, o.autoResponse ?? {});
  const autoRespond = (a: StoredAlert) => {
    if (!a.rule.response) return;
    autoResponder.onAlert(a, a.rule.response).then(
      (r) => { if ('skipped' in r) o.log.info({ alert: a.id, rule: a.rule.id, reason: r.skipped }, 'automated response not run'); },
      (err: unknown) => o.log.error({ err, alert: a.id }, 'automated response failed'));
  };
  try {
    await o.alertFeed.start({
      live: (a) => liveFeed.publish('alert', a.tenant_id, alertView(a)),
      once: async (a) => {
        autoRespond(a);
        if (o.alertFeed.queued) delivery.enqueue(a.tenant_id, alertView(a));
        else await delivery.deliver(a.tenant_id, alertView(a));
      },
      ackWaitMs: delivery.worstCaseMs + 30_000,
    });
  } catch (err) {
    await delivery.close();
    throw err;
  }
  const api = buildApi({
    metadata: o.metadata, events: o.events, log: o.log, security: o.security, liveFeed, hunt: o.hunt, defaultTenant: o.defaultTenant,
    isConnected: o.agents.isConnected, response: o.response.dispatcher,
    agentEndpoint: o.agentEndpoint, agentCaPem: o.agentCaPem,
    onPolicyStored: (p) => o.agents.policyStored(p), onAgentRevoked: (id) => o.agents.revoked(id),
    alertSinks: o.alertSinks, allowPrivateAlertSinks: o.allowPrivateAlertSinks ?? false,
    alerts: o.alerts, incidents: o.incidents, rules: o.rules, liveProcesses: o.liveProcesses, metricsToken: o.metricsToken,
  });
  const http = splitHostPort(o.http);
  try {
    await api.listen({ host: http.host, port: http.port });
  } catch (err) {
    await delivery.close();
    throw err;
  }
  const a = api.server.address();
  const port = typeof a === 'object' && a ? a.port : http.port;
  return {
    liveFeed, host: http.host, port, address: hostPort(http.host, port),
    async close() {
      await api.close();
      await delivery.close();
    },
  };
}
