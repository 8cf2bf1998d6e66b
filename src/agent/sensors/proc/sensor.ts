// The /proc sensor (mode 'proc'): the unprivileged fallback when eBPF is not available. Polls /proc
// and reports the differences between two polls: process_start for new processes (and for a known
// process whose image changed: an exec), process_end for vanished ones, network_connection and
// network_accept for new TCP/UDP sockets.
//
// Limits, by the nature of polling:
// - a process that starts and exits between two polls is never seen. The kernel's fork counter
//   (/proc/stat "processes") tells how many tasks were created; those not accounted for by new
//   processes and new threads are counted as `drops` (an estimate: short-lived threads count too);
// - process_end has no exit code and its time is the poll that noticed it;
// - sockets opened and closed between polls are missed; sockets of processes whose fd table is not
//   readable (other users, without privilege) are reported with pid 0 and the socket's uid;
// - only the sensor's own network namespace is visible.

import type { Observation, Sensor, SensorHealth } from '../../sensor.ts';
import { isKernelThread, parseNetTable, TCP_ESTABLISHED, TCP_LISTEN, TCP_SYN_SENT } from './parse.ts';
import type { NetSocket, ProcStat, Transport } from './parse.ts';
import { ProcReader } from './reader.ts';
import type { ProcessDetails } from './reader.ts';

export interface ProcSensorOptions {
  intervalMs?: number; // default 250
  ignorePids?: Iterable<number>; // e.g. the agent's own pid
  procRoot?: string; // default /proc
}

interface Known {
  startTicks: number;
  startTimeMs: number;
  comm: string;
  threads: number;
  kernel: boolean;
  executable?: string;
  args?: string[];
}

const NET_TABLES: [string, Transport][] = [
  ['net/tcp', 'tcp'],
  ['net/tcp6', 'tcp'],
  ['net/udp', 'udp'],
  ['net/udp6', 'udp'],
];

export class ProcSensor implements Sensor {
  readonly mode = 'proc' as const;
  readonly intervalMs: number;
  #reader: ProcReader;
  #ignore: Set<number>;
  #emit: (o: Observation) => void = () => {};
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  #known = new Map<number, Known>();
  #sockets = new Set<number>(); // inodes seen
  #btimeS = 0;
  #forks = 0;
  #drops = 0;
  #errors = 0;
  #lastError = '';

  constructor(opts: ProcSensorOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 250;
    this.#reader = new ProcReader(opts.procRoot);
    this.#ignore = new Set(opts.ignorePids ?? []);
  }

  /** Takes the baseline (current processes and sockets are not reported), then polls. */
  async start(emit: (o: Observation) => void): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    this.#emit = () => {};
    this.poll();
    this.#emit = emit;
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  health(): SensorHealth {
    const errors = this.#errors ? `; ${this.#errors} poll errors, last: ${this.#lastError}` : '';
    return {
      mode: 'proc',
      drops: this.#drops,
      restarts: 0,
      detail: `polling ${this.#reader.root} every ${this.intervalMs} ms (no eBPF); processes living less than one poll are missed and counted as drops${errors}`,
    };
  }

  #schedule(): void {
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      this.poll();
      this.#schedule();
    }, this.intervalMs);
    this.#timer.unref();
  }

  /** One poll: report what changed since the previous one. Never throws. */
  poll(): void {
    try {
      const boot = this.#reader.bootInfo();
      this.#btimeS = boot.btimeS;
      const seenTasks = this.#pollProcesses(Date.now());
      if (this.#forks > 0 && boot.forks > this.#forks) {
        this.#drops += Math.max(0, boot.forks - this.#forks - seenTasks);
      }
      this.#forks = boot.forks;
      this.#pollSockets(Date.now());
    } catch (e) {
      this.#errors++;
      this.#lastError = e instanceof Error ? e.message : String(e);
    }
  }

  /** Returns how many new tasks (processes and threads) this poll saw. */
  #pollProcesses(now: number): number {
    const fresh: ProcStat[] = [];
    const alive = new Set<number>();
    let newThreads = 0;
    for (const pid of this.#reader.pids()) {
      if (this.#ignore.has(pid)) continue;
      const stat = this.#reader.stat(pid);
      if (!stat) continue;
      alive.add(pid);
      const known = this.#known.get(pid);
      if (known && known.startTicks === stat.startTicks) {
        newThreads += Math.max(0, stat.numThreads - known.threads);
        known.threads = stat.numThreads;
        if (stat.comm !== known.comm) this.#checkExec(stat, known, now);
        continue;
      }
      if (known) this.#ended(pid, known, now); // PID reuse: the old process is gone
      fresh.push(stat);
    }
    for (const [pid, known] of this.#known) if (!alive.has(pid)) this.#ended(pid, known, now);
    fresh.sort((a, b) => a.startTicks - b.startTicks || a.pid - b.pid); // parents before children
    for (const stat of fresh) {
      newThreads += Math.max(0, stat.numThreads - 1);
      this.#started(stat);
    }
    return fresh.length + newThreads;
  }

  #started(stat: ProcStat): void {
    const kernel = isKernelThread(stat);
    const known: Known = {
      startTicks: stat.startTicks,
      startTimeMs: 0,
      comm: stat.comm,
      threads: stat.numThreads,
      kernel,
    };
    this.#known.set(stat.pid, known);
    if (kernel) return;
    const d = this.#reader.details(stat, this.#btimeS);
    Object.assign(known, { startTimeMs: d.startTimeMs, executable: d.executable, args: d.args });
    this.#emit(startObservation(d, d.startTimeMs));
  }

  /** The comm changed: if the image or argv changed too, the process exec'd. */
  #checkExec(stat: ProcStat, known: Known, now: number): void {
    known.comm = stat.comm;
    if (known.kernel) return;
    const d = this.#reader.details(stat, this.#btimeS);
    if (d.executable === known.executable && sameArgs(d.args, known.args)) return;
    known.executable = d.executable;
    known.args = d.args;
    this.#emit(startObservation(d, now));
  }

  #ended(pid: number, known: Known, now: number): void {
    this.#known.delete(pid);
    if (known.kernel) return;
    this.#emit({ type: 'process_end', timeMs: now, pid, startTimeMs: known.startTimeMs, comm: known.comm });
  }

  #pollSockets(now: number): void {
    const all: NetSocket[] = [];
    for (const [path, transport] of NET_TABLES) {
      const text = this.#reader.read(path);
      if (text !== undefined) all.push(...parseNetTable(text, transport));
    }
    const current = new Set<number>();
    const fresh: NetSocket[] = [];
    for (const s of all) {
      current.add(s.inode);
      if (!this.#sockets.has(s.inode) && isConnection(s)) fresh.push(s);
    }
    this.#sockets = current;
    if (fresh.length === 0) return;
    const listeners = listeningPorts(all);
    const owners = this.#socketOwners(new Set(fresh.map((s) => s.inode)));
    for (const s of fresh) {
      const pid = owners.get(s.inode) ?? 0;
      if (this.#ignore.has(pid)) continue;
      this.#emit(socketObservation(s, pid, listeners.has(`${s.transport}:${s.localPort}`), now));
    }
  }

  /**
   * inode → pid for the wanted sockets, scanning the newest processes first and stopping early.
   * Ignored pids are scanned too, so that their sockets are recognised (and then not reported).
   */
  #socketOwners(wanted: Set<number>): Map<number, number> {
    const owners = new Map<number, number>();
    const pids = [...this.#known]
      .filter(([, k]) => !k.kernel)
      .sort((a, b) => b[1].startTicks - a[1].startTicks)
      .map(([pid]) => pid);
    for (const pid of [...this.#ignore, ...pids]) {
      for (const inode of this.#reader.socketInodes(pid)) if (wanted.has(inode)) owners.set(inode, pid);
      if (owners.size === wanted.size) break;
    }
    return owners;
  }
}

function startObservation(d: ProcessDetails, timeMs: number): Observation {
  const o: Observation = {
    type: 'process_start',
    timeMs,
    pid: d.pid,
    ppid: d.ppid,
    comm: d.comm,
    startTimeMs: d.startTimeMs,
    executable: d.executable,
    args: d.args,
    cwd: d.cwd,
    uid: d.uid,
    euid: d.euid,
    gid: d.gid,
  };
  if (d.executableFromArgs) o.executableFromArgs = true;
  if (d.executableFile) o.executableFile = d.executableFile;
  return o;
}

/** A socket worth reporting: TCP established or connecting, UDP connected to a peer. */
function isConnection(s: NetSocket): boolean {
  if (s.transport === 'tcp') return s.state === TCP_ESTABLISHED || s.state === TCP_SYN_SENT;
  return s.state === TCP_ESTABLISHED && s.remotePort !== 0;
}

function listeningPorts(all: NetSocket[]): Set<string> {
  const out = new Set<string>();
  for (const s of all) if (s.transport === 'tcp' && s.state === TCP_LISTEN) out.add(`tcp:${s.localPort}`);
  return out;
}

/** An accepted socket's peer is the source; a connecting socket's peer is the destination. */
function socketObservation(s: NetSocket, pid: number, accepted: boolean, timeMs: number): Observation {
  const local = { ip: s.localIp, port: s.localPort };
  const remote = { ip: s.remoteIp, port: s.remotePort };
  const [src, dst] = accepted ? [remote, local] : [local, remote];
  return {
    type: accepted ? 'network_accept' : 'network_connection',
    timeMs,
    pid,
    uid: s.uid,
    transport: s.transport,
    family: s.family,
    direction: accepted ? 'inbound' : 'outbound',
    srcIp: src.ip,
    srcPort: src.port,
    dstIp: dst.ip,
    dstPort: dst.port,
  };
}

function sameArgs(a: string[], b: string[] | undefined): boolean {
  return b !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);
}
