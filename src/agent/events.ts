// Event building on the agent: turns a sensor Observation into a schema VigilEvent (seed 002 §5),
// enriching it from the process cache (entity ids, parent, executable and command line of processes
// the sensor only names by pid) and keeping the cache current on process start, fork and end.
// Pure apart from the random event ids; the cache is passed in.

import { randomFillSync } from 'node:crypto';
import { EVENT_CATEGORY, SNAPSHOT_ACTION, VIGIL_SELF_LABEL } from '../schema/event.ts';
import { processEntityId } from '../tree/entity.ts';
import type { EventType, ParentProcess, ProcessFields, VigilEvent } from '../schema/event.ts';
import type { ExecutableFile, Observation } from './sensor.ts';
import type { ContainerContext } from './enrichment/container.ts';
import type { CachedProcess, ProcessCache, ProcessRecord } from './process-cache.ts';

export interface AgentIdentity {
  id: string;
  hostname: string;
  tenantId: string;
  version: string;
  name?: string;
}

export interface BuildContext {
  hostId: string;
  agent: AgentIdentity;
  host?: { os?: { platform?: string; kernel?: string } };
  cache: ProcessCache;
  /** Host-monotonic sequence number of the next event. */
  nextSequence(): number;
  /** User name for a uid (e.g. from /etc/passwd), when known. */
  userName?(uid: number): string | undefined;
  /** Group name for a gid (e.g. from /etc/group), when known. */
  groupName?(gid: number): string | undefined;
  /** The container (and Kubernetes pod) of a cgroup, when the cgroup is a container's. */
  containerOf?(cgroupId: string, pid: number): ContainerContext | undefined;
  /** The `agent` and `host` fields of every event, made once and deeply frozen (events share them, and the
   * batch encoder reuses the bytes of frozen messages). */
  readonly eventAgent: VigilEvent['agent'];
  readonly eventHost: NonNullable<VigilEvent['host']>;
}

/** A context whose sequence counter starts after `lastSequence` (persist it to stay monotonic). */
export function createBuildContext(
  fields: Omit<BuildContext, 'nextSequence' | 'eventAgent' | 'eventHost'>,
  lastSequence = 0,
): BuildContext {
  let seq = lastSequence;
  return {
    ...fields, nextSequence: () => ++seq,
    eventAgent: deepFreeze(agentFields(fields.agent)),
    eventHost: deepFreeze({ id: fields.hostId, hostname: fields.agent.hostname, ...structuredClone(fields.host) }),
  };
}

function deepFreeze<T extends object>(o: T): T {
  for (const v of Object.values(o)) if (typeof v === 'object' && v !== null) deepFreeze(v);
  return Object.freeze(o);
}

export const EVENT_ACTION: Record<EventType, string> = {
  process_start: 'exec',
  process_end: 'exit',
  process_fork: 'fork',
  network_connection: 'connect',
  network_accept: 'accept',
  network_send: 'send',
  file_create: 'create',
  file_write: 'write',
  file_delete: 'delete',
  file_rename: 'rename',
  file_chmod: 'chmod',
  file_chown: 'chown',
  privilege_change: 'setuid',
  ptrace: 'ptrace',
  module_load: 'load',
  memfd_exec: 'memfd_exec',
  process_hash: 'hash',
  dns: 'query',
  windows: 'windows',
};

export function buildEvent(obs: Observation, ctx: BuildContext): VigilEvent {
  const proc = updateCache(obs, ctx.cache);
  const ev: VigilEvent = {
    '@timestamp': isoTime(obs.timeMs),
    agent: ctx.eventAgent,
    event: {
      id: eventId(),
      type: obs.type,
      category: EVENT_CATEGORY[obs.type],
      action: obs.action ?? EVENT_ACTION[obs.type],
      sequence: ctx.nextSequence(),
    },
    host: ctx.eventHost,
  };
  if (obs.pid > 0) ev.process = processFields(obs, proc, ctx.cache);
  const user = userFields(obs, proc, ctx);
  if (user) ev.user = user;
  addTypeSpecificFields(ev, obs);
  if (obs.cgroupId !== undefined) addContainerFields(ev, obs.cgroupId, ctx.containerOf?.(obs.cgroupId, obs.pid));
  if (proc?.vigil) (ev.labels ??= {})[VIGIL_SELF_LABEL] = 'true';
  return ev;
}

/**
 * The observations that report every process in the cache still running (after seeding it from /proc at
 * start), parents first: `process_start` events with the action `snapshot`, so that the host's tree holds
 * the processes that started before the agent.
 */
export function snapshotObservations(cache: ProcessCache, nowMs: number): Observation[] {
  return cache.running().map((p) => snapshotStart(p, nowMs));
}

function snapshotStart(p: ProcessRecord, nowMs: number): Observation {
  return {
    type: 'process_start', action: SNAPSHOT_ACTION, timeMs: nowMs, pid: p.pid, ppid: p.ppid, uid: p.uid,
    startTimeMs: p.startTimeMs, executable: p.executable, args: p.args, argsTruncated: p.argsTruncated, cwd: p.cwd,
  };
}

/**
 * The observations that close the gap between the start-up snapshot and the sensor's first records, from a
 * second read of the running processes made once the sensor runs: a process the cache believes running that
 * is gone ends (it exited before the sensor could see it), and a process the cache does not know is reported
 * as a snapshot start (it started before the sensor could see it), parents first. A record still in flight
 * from the sensor may repeat one of these; repeats are harmless (an end or a start of a known entity).
 */
export function reconcileObservations(cache: ProcessCache, running: ProcessRecord[], nowMs: number): Observation[] {
  const key = (pid: number, startTimeMs: number) => `${pid}:${Math.trunc(startTimeMs)}`;
  const now = new Set(running.map((r) => key(r.pid, r.startTimeMs)));
  const ended: Observation[] = cache.running().filter((p) => !now.has(key(p.pid, p.startTimeMs)))
    .map((p) => ({ type: 'process_end', timeMs: nowMs, pid: p.pid, ppid: p.ppid, startTimeMs: p.startTimeMs }));
  const started = [...running].sort((a, b) => a.startTimeMs - b.startTimeMs || a.pid - b.pid)
    .filter((r) => !cache.get(r.pid, r.startTimeMs)).map((r) => snapshotStart(r, nowMs));
  return [...ended, ...started];
}

/** Keep the cache current and return what it knows about the observed process. */
function updateCache(obs: Observation, cache: ProcessCache): CachedProcess | undefined {
  if (obs.pid <= 0) return undefined;
  switch (obs.type) {
    case 'process_start':
    case 'memfd_exec':
      return obs.startTimeMs === undefined ? cache.get(obs.pid) : cache.upsert(recordOf(obs));
    case 'process_fork': {
      if (obs.startTimeMs === undefined) return cache.get(obs.pid);
      const child = recordOf(obs);
      const parent = cache.parentOf(child);
      child.executable ??= parent?.executable; // a forked child runs its parent's image until it execs
      child.args ??= parent?.args;
      child.cwd ??= parent?.cwd;
      return cache.upsert(child);
    }
    case 'process_end':
      return cache.markExited(obs.pid, obs.startTimeMs, obs.timeMs);
    default:
      return cache.get(obs.pid, obs.startTimeMs);
  }
}

function recordOf(obs: Observation): ProcessRecord {
  return {
    pid: obs.pid,
    ppid: obs.ppid ?? 0,
    startTimeMs: obs.startTimeMs ?? obs.timeMs,
    executable: obs.executable,
    args: obs.args,
    argsTruncated: obs.argsTruncated,
    cwd: obs.cwd,
    uid: obs.uid,
  };
}

function agentFields(a: AgentIdentity): VigilEvent['agent'] {
  const out: VigilEvent['agent'] = { id: a.id, hostname: a.hostname, tenant_id: a.tenantId, version: a.version };
  if (a.name !== undefined) out.name = a.name;
  return out;
}

function processFields(obs: Observation, cached: CachedProcess | undefined, cache: ProcessCache): ProcessFields {
  const args = obs.args ?? cached?.args;
  const executable = obs.executable ?? cached?.executable;
  const startTimeMs = obs.startTimeMs ?? cached?.startTimeMs;
  const p: ProcessFields = { pid: obs.pid };
  const ppid = obs.ppid ?? cached?.ppid;
  if (ppid !== undefined) p.ppid = ppid;
  if (obs.tid !== undefined) p.tid = obs.tid;
  const same = cached !== undefined && startTimeMs !== undefined && cached.startTimeMs === Math.trunc(startTimeMs);
  if (startTimeMs !== undefined) p.entity_id = same ? cached!.entityId : processEntityId(cache.hostId, obs.pid, startTimeMs);
  if (executable !== undefined) p.executable = executable;
  const name = processName(executable, args, obs.comm);
  if (name !== undefined) p.name = name;
  if (args) {
    p.args = args;
    p.command_line = args === cached?.args ? cached.commandLine : joinCommandLine(args);
  }
  if (obs.argsTruncated ?? cached?.argsTruncated) p.args_truncated = true;
  const cwd = obs.cwd ?? cached?.cwd;
  if (cwd !== undefined) p.working_directory = cwd;
  if (startTimeMs !== undefined) p.start = same ? cached!.startIso : isoTime(startTimeMs);
  if (obs.hash) p.hash = obs.hash;
  if (obs.executableFile) p.file = executableFileFields(obs.executableFile);
  if (obs.exitCode !== undefined) p.exit_code = obs.exitCode;
  if (obs.signal !== undefined) p.signal = obs.signal;
  const parent = cache.parentOf({ ppid, startTimeMs });
  if (parent) p.parent = parent.asParent ??= Object.freeze(parentFields(parent)); // frozen: encoded once (batch-writer.ts)
  else if (ppid !== undefined) p.parent = { pid: ppid };
  return p;
}

/** The executable's facts under ECS `file` names (inode and device as text, as ECS types them). */
function executableFileFields(f: ExecutableFile): NonNullable<ProcessFields['file']> {
  return { size: f.size, inode: String(f.inode), device: String(f.device), mtime: new Date(Number(f.mtimeNs / 1_000_000n)).toISOString() }; // not isoTime: its one-second memo is the events'
}

function parentFields(parent: CachedProcess): ParentProcess {
  const out: ParentProcess = {
    pid: parent.pid,
    entity_id: parent.entityId,
    command_line: parent.commandLine,
    start: parent.startIso,
  };
  if (parent.executable !== undefined) out.executable = parent.executable;
  const name = processName(parent.executable, parent.args, undefined);
  if (name !== undefined) out.name = name;
  return out;
}

function userFields(obs: Observation, cached: CachedProcess | undefined, ctx: BuildContext): VigilEvent['user'] {
  const uid = obs.uid ?? cached?.uid;
  if (uid === undefined && obs.euid === undefined && obs.gid === undefined) return undefined;
  const user: NonNullable<VigilEvent['user']> = {};
  if (uid !== undefined) {
    user.id = String(uid);
    const name = cached?.uid === uid && cached.user ? cached.user : ctx.userName?.(uid);
    if (name !== undefined) user.name = name;
  }
  const effective = obs.type === 'privilege_change' ? (obs.newUid ?? obs.euid) : obs.euid;
  if (effective !== undefined) user.effective = named(String(effective), ctx.userName?.(effective));
  const gid = obs.type === 'privilege_change' ? (obs.newGid ?? obs.gid) : obs.gid;
  if (gid !== undefined) user.group = named(String(gid), ctx.groupName?.(gid));
  return user;
}

function named(id: string, name: string | undefined): { id: string; name?: string } {
  return name === undefined ? { id } : { id, name };
}

function addTypeSpecificFields(ev: VigilEvent, obs: Observation): void {
  if (obs.path !== undefined || obs.targetPath !== undefined || obs.moduleName !== undefined) {
    const file: NonNullable<VigilEvent['file']> = {};
    const path = obs.path ?? obs.moduleName;
    if (path !== undefined) file.path = path;
    if (obs.targetPath !== undefined) file.target_path = obs.targetPath;
    if (obs.mode !== undefined) file.mode = obs.mode.toString(8);
    if (obs.ownerUid !== undefined) file.owner = String(obs.ownerUid);
    ev.file = file;
  }
  if (obs.srcIp !== undefined || obs.srcPort !== undefined) ev.source = endpoint(obs.srcIp, obs.srcPort);
  if (obs.dstIp !== undefined || obs.dstPort !== undefined) ev.destination = endpoint(obs.dstIp, obs.dstPort);
  if (obs.transport || obs.family || obs.direction) {
    const network: NonNullable<VigilEvent['network']> = {};
    if (obs.transport !== undefined) network.transport = obs.transport;
    if (obs.family !== undefined) network.type = obs.family;
    if (obs.direction !== undefined) network.direction = obs.direction;
    ev.network = network;
  }
  if (obs.dns) ev.dns = obs.dns;
  if (obs.result !== undefined) ev.event.outcome = obs.result < 0 ? 'failure' : 'success';
  if (obs.pathTruncated) ev.event.truncated = [obs.path !== undefined ? 'file.path' : 'process.executable'];
  const labels = observationLabels(obs);
  if (labels) ev.labels = labels;
}

function addContainerFields(ev: VigilEvent, cgroupId: string, c: ContainerContext | undefined): void {
  ev.container = c?.container ? { cgroup_id: cgroupId, ...c.container } : { cgroup_id: cgroupId };
  if (c?.orchestrator) ev.orchestrator = c.orchestrator;
}

/** Facts the schema has no field for, kept as labels rather than dropped. */
function observationLabels(obs: Observation): Record<string, string> | undefined {
  let labels: Record<string, string> | undefined;
  const add = (k: string, v: string) => ((labels ??= {})[k] = v);
  if (obs.targetPid !== undefined) add('target.pid', String(obs.targetPid));
  if (obs.moduleName !== undefined) add('module.name', obs.moduleName);
  if (obs.result !== undefined && obs.result < 0) add('event.errno', String(-obs.result));
  if (obs.executableFromArgs) add('process.executable_source', 'argv0');
  if (obs.hashOutcome !== undefined && obs.hashOutcome !== 'hashed') add('process.hash_outcome', obs.hashOutcome);
  return labels;
}

function endpoint(ip: string | undefined, port: number | undefined): { ip?: string; port?: number } {
  const out: { ip?: string; port?: number } = {};
  if (ip !== undefined) out.ip = ip;
  if (port !== undefined) out.port = port;
  return out;
}

function processName(executable?: string, args?: string[], comm?: string): string | undefined {
  const path = executable ?? args?.[0];
  if (path) return path.slice(path.lastIndexOf('/') + 1);
  return comm;
}

// ISO 8601 times: Date#toISOString costs ≈ 0.8 µs, so the text up to the second is kept for the
// current second and the milliseconds are appended (events come in time order, many in each second).
const MS_SUFFIX = Array.from({ length: 1000 }, (_, ms) => `${String(ms).padStart(3, '0')}Z`);
let isoSecond = NaN;
let isoPrefix = '';

/** `new Date(ms).toISOString()`, for a valid time. */
export function isoTime(timeMs: number): string {
  const ms = Math.trunc(timeMs);
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    isoPrefix = new Date(second * 1000).toISOString().slice(0, -4); // without "000Z"
    isoSecond = second;
  }
  return isoPrefix + MS_SUFFIX[ms - second * 1000];
}

const SAFE_ARG = /^[\w@%+=:,./-]+$/;

/**
 * Join argv into one command line that a POSIX shell would split back into the same args: args that
 * are empty or contain spaces, quotes or other shell metacharacters are single-quoted.
 */
export function joinCommandLine(args: readonly string[]): string {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (i > 0) out += ' ';
    out += SAFE_ARG.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`;
  }
  return out;
}

// Event ids: UUIDv7 layout (48-bit millisecond time, then random bits), so ids sort by creation time
// and are unique without coordination. Random bytes come from a pool refilled in bulk.
const POOL_IDS = 512;
const pool = Buffer.alloc(16 * POOL_IDS);
let poolNext = POOL_IDS;

export function eventId(nowMs = Date.now()): string {
  if (poolNext === POOL_IDS) {
    randomFillSync(pool);
    poolNext = 0;
  }
  const b = pool.subarray(poolNext * 16, ++poolNext * 16);
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = 0x70 | (b[6] & 0x0f);
  b[8] = 0x80 | (b[8] & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
