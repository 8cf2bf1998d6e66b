// The process cache's exited processes (process-cache.ts), in exit order, packed in columns: numbers in
// typed arrays, strings (interned executables and working directories, user names, command lines) in
// plain arrays, no object per process. A storm of short-lived processes leaves tens of thousands of them
// for EXITED_TTL_MS; as objects (entry, argv array and strings, entity id, ISO start time, map entries)
// they cost ≈ 590–650 bytes each, here ≈ 200–270 (columns, the ring's free slots, the command line, the
// cache's map entry). What is still asked of an exited process (as the parent of its children, by a late
// record) is made again from the columns, once: the argv from the command line when joining it quoted
// nothing (else the argv is kept), the entity id and ISO start time recomputed. A process that has been a
// parent keeps its object (its frozen parent fields are encoded once, batch-writer.ts). A ring of slots
// (pids below 2^31), grown and shrunk by halves; a removed slot is marked dead and skipped when it
// reaches the head. Pure.

import { processEntityId } from '../tree/entity.ts';
import type { CachedProcess } from './process-cache.ts';

const MIN_SLOTS = 1024;
const DEAD = -1;
const HAS_ARGS_TRUNCATED = 1;
const ARGS_TRUNCATED = 2;
const VIGIL = 4;

export class ExitedProcesses {
  readonly #hostId: string;
  /** Called for each process whose slot changes when the ring is resized. */
  readonly #moved: (pid: number, slot: number) => void;
  #mask = -1;
  #head = 0;
  #used = 0; // slots from the head, dead ones included
  #live = 0; // slots not dead
  #c = columns(0);

  constructor(hostId: string, moved: (pid: number, slot: number) => void) {
    this.#hostId = hostId;
    this.#moved = moved;
  }

  /** Stores an exited process; returns its slot. */
  add(p: CachedProcess, exitedAtMs: number): number {
    const slots = this.#mask + 1;
    if (this.#used === slots) this.#resize(slots === 0 ? MIN_SLOTS : this.#live < slots / 2 ? slots : 2 * slots); // full: compacted, or grown
    const slot = (this.#head + this.#used++) & this.#mask;
    this.#live++;
    const c = this.#c;
    c.pid[slot] = p.pid;
    c.ppid[slot] = p.ppid;
    c.uid[slot] = p.uid ?? NaN;
    c.start[slot] = p.startTimeMs;
    c.exitedAt[slot] = exitedAtMs;
    c.flags[slot] = (p.argsTruncated === undefined ? 0 : HAS_ARGS_TRUNCATED | (p.argsTruncated ? ARGS_TRUNCATED : 0)) | (p.vigil ? VIGIL : 0);
    c.executable[slot] = p.executable;
    c.cwd[slot] = p.cwd;
    c.user[slot] = p.user;
    c.commandLine[slot] = p.commandLine;
    c.args[slot] = argsFromCommandLine(p.args, p.commandLine) ? undefined : p.args;
    c.entry[slot] = p.asParent === undefined ? undefined : p;
    return slot;
  }

  startTimeMs(slot: number): number {
    return this.#c.start[slot];
  }

  /** The process in `slot`, as the cache's other entries are (made once, then kept). */
  entry(slot: number): CachedProcess {
    const c = this.#c;
    const kept = c.entry[slot];
    if (kept) return kept;
    const pid = c.pid[slot];
    const startTimeMs = c.start[slot];
    const commandLine = c.commandLine[slot];
    const flags = c.flags[slot];
    const uid = c.uid[slot];
    const p: CachedProcess = { // the same shape as the cache's live entries
      pid, ppid: c.ppid[slot], startTimeMs, executable: c.executable[slot],
      args: c.args[slot] ?? (commandLine === '' ? [] : commandLine.split(' ')),
      argsTruncated: flags & HAS_ARGS_TRUNCATED ? (flags & ARGS_TRUNCATED) !== 0 : undefined,
      cwd: c.cwd[slot], uid: Number.isNaN(uid) ? undefined : uid, user: c.user[slot],
      commandLine, entityId: processEntityId(this.#hostId, pid, startTimeMs), exited: true,
      startIso: new Date(startTimeMs).toISOString(), asParent: undefined, vigil: (flags & VIGIL) !== 0,
    };
    c.entry[slot] = p;
    return p;
  }

  /** The slot of the process that exited first, or -1. */
  first(): number {
    this.#dropDeadHead();
    return this.#used === 0 ? -1 : this.#head;
  }

  pid(slot: number): number {
    return this.#c.pid[slot];
  }

  exitedAtMs(slot: number): number {
    return this.#c.exitedAt[slot];
  }

  /** Forgets the process in `slot`. */
  remove(slot: number): void {
    this.#c.pid[slot] = DEAD;
    this.#clear(slot);
    this.#live--;
    if (slot === this.#head) this.#dropDeadHead();
    if (this.#mask + 1 > MIN_SLOTS && this.#used < (this.#mask + 1) / 4) this.#resize((this.#mask + 1) / 2);
  }

  #dropDeadHead(): void {
    while (this.#used > 0 && this.#c.pid[this.#head] === DEAD) {
      this.#head = (this.#head + 1) & this.#mask;
      this.#used--;
    }
  }

  #clear(slot: number): void {
    const c = this.#c;
    c.executable[slot] = c.cwd[slot] = c.user[slot] = undefined;
    c.commandLine[slot] = '';
    c.args[slot] = c.entry[slot] = undefined;
  }

  /** New columns of `slots` (a power of two) with the live slots first, in exit order. */
  #resize(slots: number): void {
    const [from, head, used, mask] = [this.#c, this.#head, this.#used, this.#mask];
    const to = columns(slots);
    const names = Object.keys(to) as (keyof Columns)[];
    let n = 0;
    for (let i = 0; i < used; i++) {
      const s = (head + i) & mask;
      if (from.pid[s] === DEAD) continue;
      for (const k of names) (to[k] as { [slot: number]: unknown })[n] = from[k][s];
      this.#moved(from.pid[s], n++);
    }
    [this.#c, this.#head, this.#used, this.#mask] = [to, 0, n, slots - 1];
  }
}

interface Columns {
  pid: Int32Array;
  ppid: Int32Array;
  uid: Float64Array; // NaN: unknown
  start: Float64Array;
  exitedAt: Float64Array;
  flags: Uint8Array;
  executable: (string | undefined)[];
  cwd: (string | undefined)[];
  user: (string | undefined)[];
  commandLine: string[];
  args: (string[] | undefined)[]; // only when the command line does not give them back
  entry: (CachedProcess | undefined)[]; // the process's object, when it was kept or made again
}

function columns(slots: number): Columns {
  const refs = <T>(empty: T) => new Array<T>(slots).fill(empty);
  return {
    pid: new Int32Array(slots), ppid: new Int32Array(slots), uid: new Float64Array(slots), start: new Float64Array(slots),
    exitedAt: new Float64Array(slots), flags: new Uint8Array(slots), executable: refs<string | undefined>(undefined),
    cwd: refs<string | undefined>(undefined), user: refs<string | undefined>(undefined), commandLine: refs(''),
    args: refs<string[] | undefined>(undefined), entry: refs<CachedProcess | undefined>(undefined),
  };
}

/** Whether splitting `commandLine` at spaces gives `args` back: joining them quoted none (joinCommandLine). */
function argsFromCommandLine(args: readonly string[], commandLine: string): boolean {
  let length = args.length > 0 ? args.length - 1 : 0;
  for (const a of args) length += a.length;
  return length === commandLine.length;
}
