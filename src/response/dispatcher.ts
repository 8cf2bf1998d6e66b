// The response dispatcher (server side): turns a request into a stored command, sends it down the agent's stream
// when the agent is connected and again whenever it reconnects, moves each command through the lifecycle on the
// agent's reports, expires what is not done in time, takes artefact uploads chunk by chunk (acknowledging each
// one: the agent's back-pressure credit), and writes every transition to the audit ledger with the requester.
// It talks to agents through `send`: embedded, the ingest server's open streams (a send is a delivery); in the
// scale-out roles, the JetStream relay (src/response/relay.ts), whose ingest side confirms each delivery with
// `onDelivered`.

import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { JsonValue } from '../ledger/canonical.ts';
import type { AuditSink } from '../ledger/sink.ts';
import { registry } from '../metrics/registry.ts';
import type { ArtifactChunk, CommandResult, ServerMessage, WireCommand } from '../schema/wire.ts';
import { UploadError, type ArtifactStore, type StoredUpload } from './artifacts.ts';
import { isDeliverable, transition, type LifecycleEvent } from './lifecycle.ts';
import {
  isResponseAction, parseParams, parseReason, ParamError, type ArtifactRecord, type CollectParams, type CommandRecord, type GetFileParams,
} from './model.ts';
import type { CommandQuery, CommandStore } from './command-store.ts';

export interface ResponseConfig {
  /** How long a command may wait for its agent before it expires (default 24 h). */
  commandTtlMs?: number;
  /** Largest expiry a request may ask for (default 7 days). */
  maxTtlMs?: number;
  /** Isolation needs a second, different principal's approval. */
  requireIsolationApproval?: boolean;
  /** How often open commands are checked for expiry (default 1 s). */
  expirySweepMs?: number;
}

/** Who asks: the principal as the audit ledger names it, and their tenant. */
export interface Requester { actor: string; tenantId: string; requestId?: string }

/** The agent a message is for. */
export interface AgentTarget { tenantId: string; agentId: string }

/**
 * Sends a message to an agent; true when it was written down the agent's open stream (the command is then
 * delivered), false when the agent has no open stream here or the delivery is confirmed later (`onDelivered`).
 */
export type AgentSender = (agent: AgentTarget, msg: ServerMessage) => boolean;

/**
 * The person accountable for an actor (as the ledger names it) in a tenant: `user:<id>` for a user and for the API
 * keys that user created (src/identity AuthService.ownerOf). Two-person approval compares owners, not actors.
 */
export type OwnerOf = (tenantId: string, actor: string) => Promise<string>;

export interface DispatcherOptions {
  store: CommandStore;
  artifacts: ArtifactStore;
  audit: AuditSink;
  send: AgentSender;
  log: Logger;
  config?: ResponseConfig;
  now?: () => number;
  /** Without it each actor is its own owner (then a person's API key could approve their own request). */
  ownerOf?: OwnerOf;
}

export class ResponseError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const commandsTotal = new Counter({
  name: 'vigil_ir_commands_total', help: 'Response commands by action and final or refused outcome',
  labelNames: ['action', 'outcome'], registers: [registry],
});
const refusedReports = new Counter({
  name: 'vigil_ir_refused_reports_total', help: 'Agent reports and artefact chunks refused, by reason',
  labelNames: ['reason'], registers: [registry],
});

const DAY = 86_400_000;
const MAX_RESULT_CHARS = 4 * 1024 * 1024;
/** An archive's limit over its cap (which the agent applies to the tar stream): the manifest (≤ 100,000 entries)
 * and gzip's growth on incompressible data. */
const archiveLimit = (tarCap: number) => Math.ceil(tarCap * 1.01) + 64 * 1024 * 1024;

export function wireCommand(c: CommandRecord): WireCommand {
  return {
    id: c.id, action: c.action, params_json: JSON.stringify(c.params), requested_by: c.requestedBy,
    requested_at: new Date(c.requestedAt).toISOString(), expires_at: new Date(c.expiresAt).toISOString(),
  };
}

function parseResult(json: string | undefined): unknown {
  if (!json) return null;
  if (json.length > MAX_RESULT_CHARS) return { unparsed: 'result_json too large', bytes: json.length };
  try {
    return JSON.parse(json);
  } catch {
    return { unparsed: 'result_json is not JSON' };
  }
}

export class ResponseDispatcher {
  private readonly o: DispatcherOptions;
  private readonly now: () => number;
  private readonly queues = new Map<string, Promise<unknown>>();
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(o: DispatcherOptions) {
    this.o = o;
    this.now = o.now ?? Date.now;
  }

  get config(): ResponseConfig {
    return this.o.config ?? {};
  }

  start(): void {
    this.sweepTimer = setInterval(() => {
      this.sweepExpired().catch((err: unknown) => this.o.log.error({ err }, 'expiry sweep failed; retried at the next sweep'));
    }, this.config.expirySweepMs ?? 1000);
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    await Promise.allSettled([...this.queues.values()]);
    await this.o.artifacts.close();
  }

  // ---- requests (API, automated response) ----

  /**
   * Stores a new command (awaiting approval, or pending and sent at once when the agent is connected). `reason`
   * (why, bounded) is kept on the command and in its `ir.requested` ledger record; the API requires one.
   */
  async request(who: Requester, hostId: string, action: string, rawParams: unknown, ttlMs?: number, reason?: string): Promise<CommandRecord> {
    if (!isResponseAction(action)) throw new ResponseError(400, `unknown response action '${action}'`);
    let params;
    try {
      reason = parseReason(reason);
      params = parseParams(action, rawParams);
    } catch (err) {
      if (err instanceof ParamError) throw new ResponseError(400, err.message);
      throw err;
    }
    const maxTtl = this.config.maxTtlMs ?? 7 * DAY;
    if (ttlMs !== undefined && (!Number.isInteger(ttlMs) || ttlMs < 1000 || ttlMs > maxTtl)) {
      throw new ResponseError(400, `expiry must be between 1 s and ${maxTtl / 1000} s`);
    }
    const now = this.now();
    const c: CommandRecord = {
      id: `ir-${randomUUID()}`, tenantId: who.tenantId, hostId, action, params,
      status: action === 'isolate' && this.config.requireIsolationApproval ? 'awaiting_approval' : 'pending',
      requestedBy: who.actor, reason: reason ?? null, requestedAt: now, expiresAt: now + (ttlMs ?? this.config.commandTtlMs ?? DAY),
      approvedBy: null, updatedAt: now, deliveries: 0, result: null, error: null, artifactId: null,
    };
    // Audited before it exists: a command is never stored (and so never delivered) without its ledger record.
    await this.audit(c, 'ir.requested', who.actor, {
      params: c.params as unknown as JsonValue, expires_at: new Date(c.expiresAt).toISOString(), ...(c.reason === null ? {} : { reason: c.reason }),
    }, who.requestId);
    await this.o.store.insert(c);
    commandsTotal.inc({ action, outcome: 'requested' });
    return this.serial(c.id, () => this.deliver(c));
  }

  /**
   * A second person approves a command awaiting approval: not the requester, nor anyone acting for the same person
   * (an API key counts as the user who created it, so a requester cannot approve with a key they minted).
   */
  async approve(who: Requester, id: string): Promise<CommandRecord> {
    return this.serial(id, async () => {
      const c = await this.o.store.get(who.tenantId, id);
      if (!c) throw new ResponseError(404, 'no such response action');
      if (c.status !== 'awaiting_approval') throw new ResponseError(409, `the action is ${c.status}, not awaiting approval`);
      const ownerOf = this.o.ownerOf ?? (async (_tenantId: string, actor: string) => actor);
      const [requester, approver] = await Promise.all([ownerOf(c.tenantId, c.requestedBy), ownerOf(c.tenantId, who.actor)]);
      if (c.requestedBy === who.actor || requester === approver) {
        throw new ResponseError(409, 'a different principal, and another person, must approve (two-person rule; an API key counts as the user who created it)');
      }
      const moved = await this.move(c, { type: 'approve' }, { approvedBy: who.actor }, who.actor);
      if (!moved) throw new ResponseError(409, 'the action changed meanwhile; try again');
      return this.deliver(moved);
    });
  }

  get(tenantId: string, id: string): Promise<CommandRecord | undefined> {
    return this.o.store.get(tenantId, id);
  }

  list(tenantId: string, q: CommandQuery): Promise<CommandRecord[]> {
    return this.o.store.list(tenantId, q);
  }

  /** An artefact and its bytes, recorded in the chain of custody as downloaded by `who`. */
  async download(who: Requester, artifactId: string): Promise<{ artifact: ArtifactRecord; body: NodeJS.ReadableStream } | undefined> {
    const artifact = await this.o.store.getArtifact(who.tenantId, artifactId);
    if (!artifact) return undefined;
    await this.o.audit.record({
      actor: who.actor, tenantId: who.tenantId, action: 'ir.artifact.downloaded', target: artifact.id, outcome: 'success',
      requestId: who.requestId, detail: { command_id: artifact.commandId, host_id: artifact.hostId, sha256: artifact.sha256, size: artifact.size },
    });
    return { artifact, body: this.o.artifacts.read(artifact.id) };
  }

  // ---- agent side of the channel ----

  /** Re-sends every open command of an agent that (re)connected. */
  async onAgentConnected(agent: AgentTarget): Promise<void> {
    const open = await this.o.store.forHost(agent.tenantId, agent.agentId, ['pending', 'delivered', 'running']);
    await Promise.all(open.map((c) => this.serial(c.id, async () => {
      const current = await this.o.store.get(c.tenantId, c.id);
      if (current) await this.deliver(current);
    })));
  }

  /** A relay wrote command `id` down its agent's stream: pending → delivered (counted as a delivery). */
  onDelivered(agent: AgentTarget, id: string): Promise<void> {
    return this.serial(id, async () => {
      const c = await this.ownCommand(agent, id);
      if (c) await this.move(c, { type: 'deliver' }, { deliveries: c.deliveries + 1 }, 'system');
    }).catch((err: unknown) => this.o.log.error({ err, id }, 'delivery not recorded'));
  }

  onCommandResult(agent: AgentTarget, r: CommandResult): Promise<void> {
    return this.serial(r.id, async () => {
      const c = await this.ownCommand(agent, r.id);
      if (!c) return;
      if (r.status !== 'running' && r.status !== 'succeeded' && r.status !== 'failed') return this.refuseReport('bad_status', agent, r.id);
      const error = r.status === 'failed' ? (r.error || 'failed without a reason').slice(0, 4000) : null;
      const result = parseResult(r.result_json);
      const moved = await this.move(c, { type: 'report', status: r.status }, { result: result ?? c.result, error }, `agent:${agent.agentId}`);
      if (moved && moved.status !== 'running') {
        commandsTotal.inc({ action: c.action, outcome: moved.status });
        await this.o.artifacts.abort(c.id); // an upload the agent gave up on
      }
    }).catch((err: unknown) => this.o.log.error({ err, id: r.id }, 'command result not recorded'));
  }

  onArtifactChunk(agent: AgentTarget, chunk: ArtifactChunk): Promise<void> {
    const id = chunk.command_id;
    const seq = chunk.seq ?? 0;
    return this.serial(id, async () => {
      const c = await this.ownCommand(agent, id);
      if (!c) return;
      const ack = (error?: string) => this.o.send(agent, { body: 'artifact_ack', artifact_ack: { command_id: id, seq, ...(error ? { error } : {}) } });
      if ((c.action !== 'collect_triage' && c.action !== 'get_file') || !isDeliverable(c.status)) {
        refusedReports.inc({ reason: 'artifact_unexpected' });
        ack(`no upload expected for command ${id} (${c.action}, ${c.status})`);
        return;
      }
      const limit = c.action === 'collect_triage' ? archiveLimit((c.params as CollectParams).max_bytes) : (c.params as GetFileParams).max_bytes;
      let stored: StoredUpload | undefined;
      try {
        stored = await this.o.artifacts.append(id, { seq, data: chunk.data ?? new Uint8Array(), last: !!chunk.last, sha256: chunk.sha256 }, limit);
      } catch (err) {
        if (!(err instanceof UploadError)) throw err;
        refusedReports.inc({ reason: 'artifact_refused' });
        this.o.log.warn({ id, seq, err: err.message }, 'artefact chunk refused');
        ack(err.message);
        return;
      }
      if (stored) await this.recordArtifact(c, stored);
      ack();
    }).catch((err: unknown) => this.o.log.error({ err, id }, 'artefact chunk not stored'));
  }

  /** Expires every open command past its deadline. */
  async sweepExpired(): Promise<void> {
    const due = await this.o.store.expiredBy(this.now(), 500);
    const results = await Promise.allSettled(due.map((c) => this.serial(c.id, async () => {
      const current = await this.o.store.get(c.tenantId, c.id);
      if (!current || current.expiresAt > this.now()) return;
      const moved = await this.move(current, { type: 'expire' }, { error: 'expired before the agent finished it' }, 'system');
      if (moved) {
        commandsTotal.inc({ action: c.action, outcome: 'expired' });
        await this.o.artifacts.abort(c.id);
      }
    })));
    const failed = results.filter((r) => r.status === 'rejected');
    if (failed.length) throw new AggregateError(failed.map((r) => r.reason), `${failed.length} of ${due.length} expiries failed`);
  }

  // ---- internals ----

  private async recordArtifact(c: CommandRecord, s: StoredUpload): Promise<void> {
    const name = c.action === 'collect_triage' ? `${(c.params as CollectParams).artifact_name}.tar.gz` : (c.params as GetFileParams).path.split('/').pop() || 'file';
    const artifact: ArtifactRecord = {
      id: s.artifactId, tenantId: c.tenantId, hostId: c.hostId, commandId: c.id, name, kind: c.action === 'collect_triage' ? 'triage' : 'file',
      size: s.size, sha256: s.sha256, createdAt: this.now(),
    };
    await this.o.audit.record({ // before the artefact is listed: custody starts with its record
      actor: c.requestedBy, tenantId: c.tenantId, action: 'ir.artifact.stored', target: artifact.id, outcome: 'success',
      detail: { command_id: c.id, host_id: c.hostId, name, sha256: s.sha256, size: s.size, received_from: `agent:${c.hostId}` },
    });
    await this.o.store.insertArtifact(artifact);
    await this.o.store.update({ ...c, artifactId: artifact.id, updatedAt: this.now() }, c.status);
  }

  /** The command `id` if it belongs to this agent; otherwise the report is counted and dropped. */
  private async ownCommand(agent: AgentTarget, id: string): Promise<CommandRecord | undefined> {
    const c = id ? await this.o.store.get(agent.tenantId, id) : undefined;
    if (!c || c.hostId !== agent.agentId) {
      this.refuseReport('unknown_command', agent, id);
      return undefined;
    }
    return c;
  }

  private refuseReport(reason: string, agent: AgentTarget, id: string): void {
    refusedReports.inc({ reason });
    this.o.log.warn({ agentId: agent.agentId, id, reason }, 'agent report refused');
  }

  /** Sends an open command to its agent if connected; the first send moves it to delivered. */
  private async deliver(c: CommandRecord): Promise<CommandRecord> {
    if (!isDeliverable(c.status) || c.expiresAt <= this.now()) return c;
    if (!this.o.send({ tenantId: c.tenantId, agentId: c.hostId }, { body: 'command', command: wireCommand(c) })) return c;
    return (await this.move(c, { type: 'deliver' }, { deliveries: c.deliveries + 1 }, 'system')) ?? c;
  }

  /** Applies a lifecycle event: stores the new state (compare-and-set) and audits a change of status. */
  private async move(c: CommandRecord, e: LifecycleEvent, patch: Partial<CommandRecord>, by: string): Promise<CommandRecord | undefined> {
    const t = transition(c.status, e);
    if (!t.ok) {
      refusedReports.inc({ reason: 'transition' });
      this.o.log.warn({ id: c.id, reason: t.reason }, 'lifecycle transition refused');
      return undefined;
    }
    if (!t.changed && e.type === 'report') return c; // a repeated report: nothing new
    const next: CommandRecord = { ...c, ...patch, status: t.status, updatedAt: this.now() };
    // A change of status is audited before it is stored, so it never exists without its record; a change that
    // then loses the compare-and-set (another process moved the command first) is recorded as not applied.
    const action = e.type === 'approve' ? 'ir.approved' : `ir.${t.status}`;
    const detail: { [k: string]: JsonValue } = { from: c.status, by };
    if (next.error) detail.error = next.error;
    if (t.changed) await this.audit(next, action, c.requestedBy, detail);
    if (await this.o.store.update(next, c.status)) return next;
    if (t.changed) await this.audit(next, action, c.requestedBy, { ...detail, applied: false, reason: 'the command changed concurrently' }, undefined, 'failure');
    return undefined;
  }

  private async audit(c: CommandRecord, action: string, actor: string, extra: { [k: string]: JsonValue }, requestId?: string, outcome?: 'failure'): Promise<void> {
    await this.o.audit.record({
      actor, tenantId: c.tenantId, action, target: c.id, outcome: outcome ?? (c.status === 'failed' || c.status === 'expired' ? 'failure' : 'success'),
      requestId, detail: { host_id: c.hostId, action: c.action, status: c.status, ...extra },
    });
  }

  /** Runs `fn` after every earlier task of the same command: one writer per command, in arrival order. */
  private serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {});
    this.queues.set(id, tail);
    void tail.then(() => { if (this.queues.get(id) === tail) this.queues.delete(id); });
    return run;
  }
}
