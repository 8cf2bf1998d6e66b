// The agent's local process cache (seed 002 §9 "Local Agent Cache"): pid → what the agent knows about
// the process currently (or last) holding that pid, for parent enrichment and for filling in events
// whose sensor only reports a pid. Bounded; exited entries are evicted first, then the oldest, and an
// exited entry expires EXITED_TTL_MS after its exit (a storm of short-lived processes would otherwise fill
// the cache to its bound, and every full GC would mark all of it: memory and CPU for processes long gone).
// PID reuse is recognised by start time: a pid with a different start time is another process.
// Memory: a running process is an object (≈ 590 B with its strings; every entry has the same shape, and
// executables and working directories, which many processes share, are stored once (interned)); an
// exited one (most of the cache after a storm) is packed into columns (exited-processes.ts, ≈ 200–270 B)
// and made an object again only if asked for; the one its exit event is made from is the caller's.
// Pure: no I/O (seeding from /proc lives in sensors/proc/reader.ts and hands records in).

import { processEntityId } from '../tree/entity.ts';
import { isoTime, joinCommandLine } from './events.ts';
import { ExitedProcesses } from './exited-processes.ts';
import type { ParentProcess } from '../schema/event.ts';

/** What a sensor or the /proc snapshot knows about a process. */
export interface ProcessRecord {
  pid: number;
  ppid: number;
  startTimeMs: number;
  executable?: string;
  args?: string[];
  argsTruncated?: boolean;
  cwd?: string;
  uid?: number;
  user?: string;
}

export interface CachedProcess extends ProcessRecord {
  args: string[];
  commandLine: string;
  entityId: string;
  exited: boolean;
  /** `startTimeMs` as ISO 8601, made once (every event of the process and of its children carries it). */
  startIso: string;
  /** The event fields of this process as a parent, made (frozen) at its first child's event; reset when it execs. */
  asParent?: ParentProcess;
  /** Vigil's own process (the agent, or the server it runs in) or one of its descendants: never alerted on. */
  vigil: boolean;
}

export const DEFAULT_PROCESS_CACHE_ENTRIES = 100_000;
/** How long an exited process stays for the events that still name it (its children, late records). */
export const EXITED_TTL_MS = 30_000;
const INTERNED_STRINGS = 4096; // the intern table is emptied when it reaches this size

export class ProcessCache {
  readonly hostId: string;
  readonly maxEntries: number;
  #byPid = new Map<number, CachedProcess | number>(); // a running process, or an exited one's slot in #exited; insertion order = age
  readonly #exited: ExitedProcesses; // in exit order
  readonly #exitedTtlMs: number;
  #strings = new Map<string, string>(); // interned executables and working directories
  #evictions = 0;
  readonly #selfPids: ReadonlySet<number>;

  /** `selfPids`: Vigil's own processes (default: this one); they and their descendants are marked `vigil`. */
  constructor(hostId: string, opts: { maxEntries?: number; exitedTtlMs?: number; selfPids?: number[] } = {}) {
    this.hostId = hostId;
    this.#selfPids = new Set(opts.selfPids ?? [process.pid]);
    this.maxEntries = Math.max(1, opts.maxEntries ?? DEFAULT_PROCESS_CACHE_ENTRIES);
    this.#exitedTtlMs = opts.exitedTtlMs ?? EXITED_TTL_MS;
    this.#exited = new ExitedProcesses(hostId, (pid, slot) => this.#byPid.set(pid, slot));
  }

  get size(): number {
    return this.#byPid.size;
  }

  get evictions(): number {
    return this.#evictions;
  }

  /**
   * Insert or refresh a process. The same pid with the same start time updates the entry in place
   * (a later exec in the same process); a different start time replaces it (PID reuse).
   */
  upsert(rec: ProcessRecord): CachedProcess {
    const startTimeMs = Math.trunc(rec.startTimeMs);
    const known = this.#byPid.get(rec.pid);
    if (known !== undefined && this.#startOf(known) === startTimeMs) {
      const current = this.#entryOf(known);
      this.#assignDefined(current, rec);
      if (rec.args) current.commandLine = joinCommandLine(current.args);
      current.asParent = undefined;
      return current;
    }
    if (known !== undefined) this.#remove(rec.pid, known);
    else this.#makeRoom();
    const args = rec.args ?? [];
    const entry: CachedProcess = { // every field, always in this order: one shape for all entries
      pid: rec.pid, ppid: rec.ppid, startTimeMs, executable: this.#intern(rec.executable), args,
      argsTruncated: rec.argsTruncated, cwd: this.#intern(rec.cwd), uid: rec.uid, user: rec.user,
      commandLine: joinCommandLine(args), entityId: processEntityId(this.hostId, rec.pid, startTimeMs), exited: false,
      startIso: isoTime(startTimeMs), asParent: undefined,
      vigil: this.#selfPids.has(rec.pid) || this.parentOf({ ppid: rec.ppid, startTimeMs })?.vigil === true,
    };
    this.#byPid.set(rec.pid, entry);
    return entry;
  }

  /** The process holding `pid`; when `startTimeMs` is given, only if it is that very process. */
  get(pid: number, startTimeMs?: number): CachedProcess | undefined {
    const known = this.#byPid.get(pid);
    if (known === undefined) return undefined;
    if (startTimeMs !== undefined && this.#startOf(known) !== Math.trunc(startTimeMs)) return undefined;
    return this.#entryOf(known);
  }

  /**
   * The parent of a process: the entry for its ppid, unless that pid now belongs to a process that
   * started after the child (the real parent is gone and its pid was reused).
   */
  parentOf(child: { ppid?: number; startTimeMs?: number }): CachedProcess | undefined {
    if (child.ppid === undefined) return undefined;
    const known = this.#byPid.get(child.ppid);
    if (known === undefined) return undefined;
    if (child.startTimeMs !== undefined && this.#startOf(known) > child.startTimeMs) return undefined;
    return this.#entryOf(known);
  }

  /**
   * Mark a process exited at `atMs` (wall clock); it stays for parent lookups until it expires or is
   * evicted. Exits are the cache's clock: those that expired by `atMs` are removed now. Returns the
   * process as it was when it exited.
   */
  markExited(pid: number, startTimeMs: number | undefined, atMs: number): CachedProcess | undefined {
    this.#expire(atMs);
    const p = this.get(pid, startTimeMs);
    if (!p || p.exited) return p;
    p.exited = true;
    this.#byPid.set(pid, this.#exited.add(p, atMs)); // the same key: its age stays
    return p;
  }

  #expire(nowMs: number): void {
    for (let slot = this.#exited.first(); slot >= 0; slot = this.#exited.first()) {
      if (nowMs - this.#exited.exitedAtMs(slot) < this.#exitedTtlMs) return;
      this.#remove(this.#exited.pid(slot), slot);
    }
  }

  #startOf(known: CachedProcess | number): number {
    return typeof known === 'number' ? this.#exited.startTimeMs(known) : known.startTimeMs;
  }

  #entryOf(known: CachedProcess | number): CachedProcess {
    return typeof known === 'number' ? this.#exited.entry(known) : known;
  }

  /** The processes not known to have exited, oldest first. */
  running(): CachedProcess[] {
    const out: CachedProcess[] = [];
    for (const known of this.#byPid.values()) if (typeof known !== 'number' && !known.exited) out.push(known);
    return out.sort((a, b) => a.startTimeMs - b.startTimeMs || a.pid - b.pid);
  }

  /** Load a snapshot (e.g. all processes in /proc), oldest first so that age order is start order. */
  seed(records: Iterable<ProcessRecord>): void {
    const sorted = [...records].sort((a, b) => a.startTimeMs - b.startTimeMs || a.pid - b.pid);
    for (const r of sorted) this.upsert(r);
  }

  /** Copies the record's known facts (an update never erases what is known); start time and pid stay. */
  #assignDefined(entry: CachedProcess, rec: ProcessRecord): void {
    if (rec.ppid !== undefined) entry.ppid = rec.ppid;
    if (rec.executable !== undefined) entry.executable = this.#intern(rec.executable);
    if (rec.args !== undefined) entry.args = rec.args;
    if (rec.argsTruncated !== undefined) entry.argsTruncated = rec.argsTruncated;
    if (rec.cwd !== undefined) entry.cwd = this.#intern(rec.cwd);
    if (rec.uid !== undefined) entry.uid = rec.uid;
    if (rec.user !== undefined) entry.user = rec.user;
  }

  #intern(s: string | undefined): string | undefined {
    if (s === undefined) return undefined;
    const known = this.#strings.get(s);
    if (known !== undefined) return known;
    if (this.#strings.size >= INTERNED_STRINGS) this.#strings.clear();
    this.#strings.set(s, s);
    return s;
  }

  #remove(pid: number, known: CachedProcess | number): void {
    this.#byPid.delete(pid);
    if (typeof known === 'number') this.#exited.remove(known);
  }

  #makeRoom(): void {
    while (this.#byPid.size >= this.maxEntries) {
      const exited = this.#exited.first();
      if (exited >= 0) this.#remove(this.#exited.pid(exited), exited);
      else {
        const [oldest] = this.#byPid.keys(); // nothing exited: all entries are running processes, oldest first
        if (oldest === undefined) return;
        this.#remove(oldest, this.#byPid.get(oldest)!);
      }
      this.#evictions++;
    }
  }
}
