// The response-action command model (seed 002 §8): the actions, their parameters as validated at the API and
// again on the agent, and the stored command record. Pure: a parameter object in, a typed value or a precise
// error out.

import { isIP } from 'node:net';

export const RESPONSE_ACTIONS = ['isolate', 'release', 'kill_process', 'collect_triage', 'list_processes', 'get_file'] as const;
export type ResponseAction = (typeof RESPONSE_ACTIONS)[number];

export const COMMAND_STATUSES = ['awaiting_approval', 'pending', 'delivered', 'running', 'succeeded', 'failed', 'expired'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];
export const TERMINAL_STATUSES: readonly CommandStatus[] = ['succeeded', 'failed', 'expired'];

/** Signals a responder may send; anything else is refused. */
export const KILL_SIGNALS = ['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGSTOP', 'SIGCONT'] as const;
export type KillSignal = (typeof KILL_SIGNALS)[number];

export const MAX_TRIAGE_BYTES = 4 * 1024 * 1024 * 1024;
export const DEFAULT_TRIAGE_BYTES = 500 * 1024 * 1024;
export const MAX_GET_FILE_BYTES = 1024 * 1024 * 1024;

export interface IsolateParams { reason?: string; dns?: string[] }
export interface KillParams { pid: number; start_time_ms?: number; entity_id?: string; signal: KillSignal }
export interface CollectParams { paths: string[]; artifact_name: string; max_bytes: number }
export interface GetFileParams { path: string; max_bytes: number }
export interface ListProcessesParams { limit: number }

export interface ParamsOf {
  isolate: IsolateParams;
  release: { reason?: string };
  kill_process: KillParams;
  collect_triage: CollectParams;
  list_processes: ListProcessesParams;
  get_file: GetFileParams;
}
export type CommandParams = ParamsOf[ResponseAction];

/** A response command as stored on the server. Times are ms since the epoch. */
export interface CommandRecord {
  id: string;
  tenantId: string;
  hostId: string;
  action: ResponseAction;
  params: CommandParams;
  status: CommandStatus;
  /** The principal who asked (e.g. `apikey:<id>`, `user:<id>`, `rule:<id>` for automated response). */
  requestedBy: string;
  /** Why it was asked: required of analysts (the API), set by automated response; null on commands stored before reasons were kept. */
  reason: string | null;
  requestedAt: number;
  expiresAt: number;
  approvedBy: string | null;
  updatedAt: number;
  deliveries: number;
  result: unknown;
  error: string | null;
  artifactId: string | null;
}

export interface ArtifactRecord {
  id: string;
  tenantId: string;
  hostId: string;
  commandId: string;
  name: string;
  kind: 'triage' | 'file';
  size: number;
  sha256: string;
  createdAt: number;
}

export class ParamError extends Error {}

const fail = (msg: string): never => { throw new ParamError(msg); };

function object(v: unknown): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  return typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : fail('params must be an object');
}

function optionalText(o: Record<string, unknown>, key: string, max: number): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length > max) fail(`${key} must be a string of at most ${max} characters`);
  return v as string;
}

function integer(v: unknown, key: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${key} must be an integer in [${min}, ${max}]`);
  return v as number;
}

function absolutePath(v: unknown, key: string): string {
  if (typeof v !== 'string' || !v.startsWith('/') || v.length > 4096 || v.includes('\0')) fail(`${key} must be an absolute path`);
  return v as string;
}

/** A process start time: ms since the epoch, or an ISO 8601 time (as in `process.start` of events). */
function startTime(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const ms = typeof v === 'number' ? v : typeof v === 'string' ? Date.parse(v) : NaN;
  return Number.isFinite(ms) && ms > 0 ? Math.trunc(ms) : fail('start_time must be ms since the epoch or an ISO 8601 time');
}

function sizeCap(o: Record<string, unknown>, max: number, fallback: number): number {
  if (o.max_bytes !== undefined) return integer(o.max_bytes, 'max_bytes', 1, max);
  if (o.max_size_mb !== undefined) return integer(o.max_size_mb, 'max_size_mb', 1, Math.floor(max / 1048576)) * 1048576;
  return fallback;
}

/** Longest reason of a response request. */
export const MAX_REASON_CHARS = 1000;

/** A request's reason: 1 to MAX_REASON_CHARS characters, not only blanks; undefined when absent. Throws ParamError. */
export function parseReason(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.trim() === '' || v.length > MAX_REASON_CHARS || !v.isWellFormed()) {
    fail(`reason must be 1 to ${MAX_REASON_CHARS} characters of text`);
  }
  return v as string;
}

/** The optional reason, absent rather than undefined (the ledger records only JSON values). */
function reasonOf(o: Record<string, unknown>): { reason?: string } {
  const reason = optionalText(o, 'reason', MAX_REASON_CHARS);
  return reason === undefined ? {} : { reason };
}

const PARSERS: { [A in ResponseAction]: (o: Record<string, unknown>) => ParamsOf[A] } = {
  isolate(o) {
    const dns = o.dns === undefined ? undefined : Array.isArray(o.dns) && o.dns.length <= 8 && o.dns.every((a) => typeof a === 'string' && isIP(a))
      ? o.dns as string[] : fail('dns must be a list of at most 8 IP addresses');
    return { ...reasonOf(o), ...(dns ? { dns } : {}) };
  },
  release: (o) => reasonOf(o),
  kill_process(o) {
    const pid = integer(o.pid, 'pid', 2, 4_194_304);
    const start_time_ms = startTime(o.start_time ?? o.start_time_ms);
    const entity_id = optionalText(o, 'entity_id', 64);
    if (start_time_ms === undefined && !entity_id) fail('kill_process needs start_time or entity_id, so that a reused PID is never killed');
    const signal = (o.signal ?? 'SIGKILL') as KillSignal;
    if (!KILL_SIGNALS.includes(signal)) fail(`signal must be one of ${KILL_SIGNALS.join(', ')}`);
    return { pid, signal, ...(start_time_ms !== undefined ? { start_time_ms } : {}), ...(entity_id ? { entity_id } : {}) };
  },
  collect_triage(o) {
    if (!Array.isArray(o.paths) || o.paths.length === 0 || o.paths.length > 256) fail('paths must be a list of 1 to 256 absolute paths');
    const paths = (o.paths as unknown[]).map((p) => absolutePath(p, 'paths[]'));
    const name = o.artifact_name ?? o.artifact ?? 'triage';
    if (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(name)) fail('artifact_name must be 1-128 of [A-Za-z0-9._-]');
    return { paths, artifact_name: name as string, max_bytes: sizeCap(o, MAX_TRIAGE_BYTES, DEFAULT_TRIAGE_BYTES) };
  },
  list_processes: (o) => ({ limit: o.limit === undefined ? 10_000 : integer(o.limit, 'limit', 1, 100_000) }),
  get_file: (o) => ({ path: absolutePath(o.path, 'path'), max_bytes: sizeCap(o, MAX_GET_FILE_BYTES, 100 * 1048576) }),
};

export function isResponseAction(v: unknown): v is ResponseAction {
  return typeof v === 'string' && (RESPONSE_ACTIONS as readonly string[]).includes(v);
}

/** Validated, normalised parameters of `action`; throws ParamError saying what is wrong. */
export function parseParams<A extends ResponseAction>(action: A, params: unknown): ParamsOf[A] {
  return PARSERS[action](object(params));
}

/** The parameters' JSON, parsed and validated (the agent's side of the same check). */
export function parseParamsJson<A extends ResponseAction>(action: A, json: string | undefined): ParamsOf[A] {
  let value: unknown;
  try {
    value = json ? JSON.parse(json) : {};
  } catch {
    throw new ParamError('params_json is not JSON');
  }
  return parseParams(action, value);
}
