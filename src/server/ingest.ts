// The ingest role: the agents' gRPC endpoint. `Enroll` turns an enrolment token and a CSR into a client
// certificate; `Stream` (mTLS: the certificate is the agent's identity and tenant) takes event batches,
// validates every event, publishes the good ones to the bus and acknowledges the batch once the bus says
// they are durable. Malformed messages get a precise refusal and a counter; they never end the stream.

import * as grpc from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Bus } from '../bus/types.ts';
import { verifyAgentCertificate, signAgentCsr, type AgentIdentity, type CertificateAuthority, type KeyPairPem } from '../pki/pki.ts';
import {
  decodeAgentMessage, decodeEnrollRequest, encodeEnrollResponse, encodeServerMessage,
  type EventError, type Heartbeat, type ServerMessage, type CommandResult, type ArtifactChunk, type PolicyAck, type DatasetRequest,
} from '../schema/wire.ts';
import type { AgentHealth, MetadataStore } from '../stores/metadata/types.ts';
import { AGENT_SERVICE, MAX_MESSAGE_BYTES } from '../schema/service.ts';
import * as m from './metrics.ts';
import { hashEnrollmentToken } from '../stores/metadata/enrollment-tokens.ts';
import { acceptBatch, type AcceptedBatch } from './ingest-batch.ts';

/** What ingest needs of the metadata store: enrolment, the agent's record, its heartbeats. */
export type IngestMetadata = Pick<MetadataStore, 'consumeEnrollmentToken' | 'upsertHost' | 'getAgent' | 'recordHeartbeat'>;

export interface IngestOptions {
  ca: CertificateAuthority;
  serverCert: KeyPairPem;
  metadata: IngestMetadata;
  /** Where accepted batches go (publishingBatches: the bus takes their encodeAcceptedBatch form). */
  bus: Pick<Bus<AcceptedBatch>, 'publish'>;
  log: Logger;
  certificateDays?: number;
  /** Called with each command result an agent reports (response actions). */
  onCommandResult?: (agent: AgentIdentity, r: CommandResult) => void;
  /** Called with each artefact chunk an agent uploads (triage archives, fetched files). */
  onArtifactChunk?: (agent: AgentIdentity, c: ArtifactChunk) => void;
  /** Called when an agent's stream is open (e.g. to re-deliver pending commands, push policies). */
  onAgentConnected?: (agent: AgentIdentity) => void;
  /** Called when an agent's open stream is gone (not when a newer stream of the same agent replaced it). */
  onAgentDisconnected?: (agentId: string) => void;
  /** Called with each policy version an agent acknowledges. */
  onPolicyAck?: (agent: AgentIdentity, ack: PolicyAck) => void;
  /** Called when an agent asks for a DLP data set's fingerprint set by version. */
  onDatasetRequest?: (agent: AgentIdentity, req: DatasetRequest) => void;
}

/** An agent's open stream: used to send commands and policies down. */
export interface AgentChannel {
  identity: AgentIdentity;
  send(msg: ServerMessage): void;
  /** Ends the stream at once with UNAUTHENTICATED (e.g. its certificate was revoked). */
  refuse(details: string): void;
}

/** One agent's open stream, as the message handlers see it. */
interface StreamContext {
  id: AgentIdentity;
  send(msg: ServerMessage): void;
  /** Ends the stream with UNAVAILABLE: the agent reconnects and re-sends what is unacknowledged. */
  fail(details: string): void;
}

class StaticCertificates implements grpc.experimental.CertificateProvider {
  private readonly ca: Buffer;
  private readonly identity: { certificate: Buffer; privateKey: Buffer };
  constructor(caPem: string, cert: KeyPairPem) {
    this.ca = Buffer.from(caPem);
    this.identity = { certificate: Buffer.from(cert.certPem), privateKey: Buffer.from(cert.keyPem) };
  }
  // grpc-js registers its watcher after adding listeners: answer on the next tick.
  addCaCertificateListener(l: grpc.experimental.CaCertificateUpdateListener): void { setImmediate(() => l({ caCertificate: this.ca })); }
  removeCaCertificateListener(): void {}
  addIdentityCertificateListener(l: grpc.experimental.IdentityCertificateUpdateListener): void { setImmediate(() => l(this.identity)); }
  removeIdentityCertificateListener(): void {}
}

function healthFrom(h: Heartbeat): AgentHealth {
  return {
    version: h.version, sensorMode: h.sensor_mode, sensorDetail: h.sensor_detail, queueDepth: h.queue_depth,
    spoolBytes: h.spool_bytes, sensorDrops: h.sensor_drops, agentDrops: h.agent_drops,
    sensorRestarts: h.sensor_restarts, rssBytes: h.rss_bytes, cpuPct: h.cpu_pct, eventsSent: h.events_sent,
    isolated: h.isolated ?? false,
  };
}

export class IngestServer {
  private readonly o: IngestOptions;
  private readonly server: grpc.Server;
  readonly channels = new Map<string, AgentChannel>();
  /** The last publish was refused because the events stream is full (vigil_bus_full). */
  busFull = false;
  /** While busFull: when the episode began, and the last refusal (ms since the epoch). */
  private busFullSince = 0;
  private busFullLast = 0;

  constructor(o: IngestOptions) {
    this.o = o;
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.keepalive_time_ms': 60_000,
    });
    this.server.addService(AGENT_SERVICE, {
      Enroll: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        this.enroll(call, cb).catch((err: unknown) => {
          m.enrolments.inc({ outcome: 'error' });
          this.o.log.error({ err, peer: call.getPeer() }, 'enrolment failed');
          cb({ code: grpc.status.UNAVAILABLE, details: 'enrolment failed on the server; retry later' });
        });
      },
      Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        this.stream(call).catch((err: unknown) => this.streamFailed(call, err));
      },
    });
  }

  /** Listens on host:port (port 0 picks one); returns the bound port. */
  async listen(address: string): Promise<number> {
    // Client certificates are requested but checked by us (Enroll has none yet; Stream requires one).
    const creds = grpc.experimental.createCertificateProviderServerCredentials(
      new StaticCertificates(this.o.ca.certPem, this.o.serverCert),
      new StaticCertificates(this.o.ca.certPem, this.o.serverCert), false);
    return new Promise((resolve, reject) => {
      this.server.bindAsync(address, creds, (err, port) => (err ? reject(err) : resolve(port)));
    });
  }

  async close(): Promise<void> {
    for (const c of this.channels.values()) c.send({ body: 'command', command: { id: '', action: 'reconnect' } });
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
  }

  /**
   * What this ingest's /healthz reports beside "ok" (src/server/roles.ts): while the events stream refuses
   * batches at its byte bound, one warning (no error: the process is alive and every other ingest on the same
   * stream is refused alike); none again once a batch is accepted. Says nothing tenant-specific.
   */
  healthWarnings(): string[] {
    if (!this.busFull) return [];
    return [`bus full since ${new Date(this.busFullSince).toISOString()} (last batch refused ${new Date(this.busFullLast).toISOString()}): ` +
      'the events stream is at its byte bound (--bus-max-bytes; workers down or behind); batches are not acknowledged and stay in the agents\' spools'];
  }

  forceClose(): void {
    this.server.forceShutdown();
  }

  /** Cuts the agent's open stream, if any, with UNAUTHENTICATED; true when one was open. */
  disconnect(agentId: string, details: string): boolean {
    const c = this.channels.get(agentId);
    c?.refuse(details);
    return c !== undefined;
  }

  private async enroll(call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>): Promise<void> {
    const refuse = (code: grpc.status, reason: string, outcome: string) => {
      m.enrolments.inc({ outcome });
      this.o.log.warn({ peer: call.getPeer(), reason }, 'enrolment refused');
      cb({ code, details: reason });
    };
    let req;
    try {
      req = decodeEnrollRequest(call.request);
    } catch (err) {
      return refuse(grpc.status.INVALID_ARGUMENT, (err as Error).message, 'malformed');
    }
    if (!req.token) return refuse(grpc.status.UNAUTHENTICATED, 'enrolment token missing', 'refused');
    const token = await this.o.metadata.consumeEnrollmentToken(hashEnrollmentToken(req.token), Date.now());
    if ('refused' in token) return refuse(grpc.status.PERMISSION_DENIED, token.refused, 'refused');
    const agentId = `agt-${randomBytes(8).toString('hex')}`;
    let signed;
    try {
      signed = await signAgentCsr(this.o.ca, req.csr_pem, agentId, token.tenantId, this.o.certificateDays ?? 365);
    } catch (err) {
      return refuse(grpc.status.INVALID_ARGUMENT, (err as Error).message, 'malformed');
    }
    await this.o.metadata.upsertHost({
      id: agentId, tenantId: token.tenantId, hostname: (req.hostname ?? '').slice(0, 253) || agentId,
      os: (req.os ?? '').slice(0, 64), kernel: (req.kernel ?? '').slice(0, 128), agentVersion: (req.agent_version ?? '').slice(0, 64),
      certSerial: signed.serial, certNotAfter: signed.notAfter.getTime(), enrolledAt: Date.now(),
    });
    m.enrolments.inc({ outcome: 'enrolled' });
    this.o.log.info({ agentId, tenant: token.tenantId, hostname: req.hostname }, 'agent enrolled');
    cb(null, encodeEnrollResponse({ agent_id: agentId, tenant_id: token.tenantId, certificate_pem: signed.certPem, ca_pem: this.o.ca.certPem }));
  }

  /** The agent's identity from its certificate, or the reason it is refused. */
  private async authenticate(call: grpc.ServerDuplexStream<Buffer, Buffer>): Promise<AgentIdentity | string> {
    const cert = call.getAuthContext()?.sslPeerCertificate;
    if (!cert?.raw) return 'no client certificate';
    let id: AgentIdentity;
    try {
      id = await verifyAgentCertificate(this.o.ca, cert.raw);
    } catch (err) {
      return (err as Error).message;
    }
    const host = await this.o.metadata.getAgent(id.agentId);
    if (!host || host.tenantId !== id.tenantId) return 'unknown agent';
    if (host.revoked) return 'agent certificate revoked';
    if (host.certSerial !== id.serial) return 'certificate superseded by a newer enrolment';
    return id;
  }

  private async stream(call: grpc.ServerDuplexStream<Buffer, Buffer>): Promise<void> {
    const id = await this.authenticate(call);
    if (typeof id === 'string') {
      m.streamsRefused.inc({ reason: id });
      this.o.log.warn({ peer: call.getPeer(), reason: id }, 'agent stream refused');
      call.emit('error', { code: grpc.status.UNAUTHENTICATED, details: id });
      return;
    }
    const send = (msg: ServerMessage) => { if (!call.destroyed && call.writable) call.write(encodeServerMessage(msg)); };
    const fail = (details: string) => { if (!call.destroyed) call.emit('error', { code: grpc.status.UNAVAILABLE, details }); };
    const refuse = (details: string) => {
      m.streamsRefused.inc({ reason: details });
      if (!call.destroyed) call.emit('error', { code: grpc.status.UNAUTHENTICATED, details });
    };
    const channel: AgentChannel = { identity: id, send, refuse };
    this.channels.get(id.agentId)?.send({ body: 'command', command: { id: '', action: 'reconnect' } });
    this.channels.set(id.agentId, channel);
    m.connectedAgents.set(this.channels.size);
    this.o.log.info({ agentId: id.agentId }, 'agent connected');
    call.on('data', (bytes: Buffer) => { this.onMessage({ id, send, fail }, bytes).catch((err: unknown) => this.streamFailed(call, err)); });
    const done = () => {
      if (this.channels.get(id.agentId) !== channel) return;
      this.channels.delete(id.agentId);
      m.connectedAgents.set(this.channels.size);
      this.o.onAgentDisconnected?.(id.agentId);
    };
    call.on('end', () => { done(); call.end(); });
    call.on('error', done);
    call.on('close', done);
    this.o.onAgentConnected?.(id);
  }

  /** A server-side failure (e.g. the metadata store) while serving a stream: the agent reconnects and re-sends. */
  private streamFailed(call: grpc.ServerDuplexStream<Buffer, Buffer>, err: unknown): void {
    m.ingestRejectedMessages.inc({ reason: 'server_error' });
    this.o.log.error({ err, peer: call.getPeer() }, 'agent stream failed');
    if (!call.destroyed) call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'server error; reconnect and re-send' });
  }

  private async onMessage(s: StreamContext, bytes: Buffer): Promise<void> {
    const { id, send } = s;
    const received = m.ingestAckSeconds.startTimer(); // observed for batches: received → acknowledged
    let msg;
    try {
      msg = decodeAgentMessage(bytes);
    } catch (err) {
      m.ingestRejectedMessages.inc({ reason: 'malformed' });
      return send({ body: 'reject', reject: { seq: 0, error: (err as Error).message } });
    }
    if (msg.body === 'batch') return this.onBatch(s, msg.batch.seq, msg.batch.events, bytes, received);
    if (msg.body === 'heartbeat') {
      const health = healthFrom(msg.heartbeat);
      m.agentDrops.set({ host: id.agentId, where: 'sensor' }, health.sensorDrops ?? 0);
      m.agentDrops.set({ host: id.agentId, where: 'agent' }, health.agentDrops ?? 0);
      return this.o.metadata.recordHeartbeat(id.agentId, Date.now(), health);
    }
    if (msg.body === 'command_result') return this.o.onCommandResult?.(id, msg.command_result);
    if (msg.body === 'artifact_chunk') return this.o.onArtifactChunk?.(id, msg.artifact_chunk);
    if (msg.body === 'policy_ack') return this.o.onPolicyAck?.(id, msg.policy_ack);
    if (msg.body === 'dataset_request') return this.o.onDatasetRequest?.(id, msg.dataset_request);
    m.ingestRejectedMessages.inc({ reason: 'empty' });
    send({ body: 'reject', reject: { seq: 0, error: 'agent message has no body' } });
  }

  private onBatch(s: StreamContext, seq: number, events: Record<string, unknown>[], message: Buffer, received: () => void): Promise<void> {
    const stamp = { agentId: s.id.agentId, tenantId: s.id.tenantId, ingested: new Date().toISOString() };
    const { batch, errors, truncated } = acceptBatch(stamp, message, events);
    const accepted = batch.events.length;
    // Only the counts wait for the bus: the events are the bus's from here on. (Kept alive across the fsync,
    // they would reach the old generation, and the full collections that then follow delay other acks.)
    const published = accepted ? this.o.bus.publish({ subject: `events.${s.id.tenantId}.${s.id.agentId}`, id: `${s.id.agentId}:${seq}`, payload: batch }) : Promise.resolve();
    return this.acknowledge(s, seq, published, { accepted, errors, truncated }, received);
  }

  private async acknowledge({ id, send, fail }: StreamContext, seq: number, published: Promise<void>,
    ack: { accepted: number; errors: EventError[]; truncated: number }, received: () => void): Promise<void> {
    try {
      await published;
    } catch (err) {
      // Not acknowledged: the stream is closed so that the agent reconnects and re-sends from its spool.
      if ((err as { busFull?: boolean }).busFull === true) {
        // The events stream is at its bound (workers down or behind): nothing is dropped, the agents hold the events.
        m.ingestRejectedMessages.inc({ reason: 'bus_full' });
        if (!this.busFull) this.o.log.warn({ err, agentId: id.agentId, seq }, 'bus full: the events stream is at its byte bound (workers down or behind?); batches are not acknowledged and stay in the agents\' spools until it drains');
        const now = Date.now();
        if (!this.busFull) this.busFullSince = now;
        this.busFullLast = now;
        this.busFull = true;
        m.busFull.set(1);
        return fail('bus full; reconnect and re-send later');
      }
      m.ingestRejectedMessages.inc({ reason: 'store_unavailable' });
      this.o.log.error({ err, agentId: id.agentId, seq }, 'batch not stored');
      return fail('events could not be stored; reconnect and re-send');
    }
    if (this.busFull) {
      this.busFull = false;
      m.busFull.set(0);
      this.o.log.info('bus no longer full: batches are acknowledged again');
    }
    m.ingestEvents.inc({ outcome: 'accepted' }, ack.accepted);
    if (ack.errors.length) m.ingestEvents.inc({ outcome: 'rejected' }, ack.errors.length);
    if (ack.truncated) m.ingestEvents.inc({ outcome: 'truncated' }, ack.truncated);
    send({ body: 'ack', ack: { seq, ...ack } });
    received();
  }
}
