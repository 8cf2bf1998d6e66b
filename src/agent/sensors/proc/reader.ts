// Reading /proc for the /proc sensor and for seeding the process cache: small files through one
// reused buffer (open/read/close, no stat), links, fd tables. Every read tolerates the process
// having vanished or being unreadable (no privilege) and returns undefined instead of throwing.

import { closeSync, openSync, readdirSync, readlinkSync, readSync, statSync } from 'node:fs';
import type { ProcessRecord } from '../../process-cache.ts';
import type { ExecutableFile } from '../../sensor.ts';
import { isKernelThread, parseCmdline, parseProcStat, parseStat, parseStatusIds, procStartTimeMs } from './parse.ts';
import type { ProcStat } from './parse.ts';

export interface ProcessDetails extends ProcessRecord {
  args: string[];
  executableFromArgs: boolean;
  executableFile?: ExecutableFile; // the running image (stat of /proc/<pid>/exe), for the hasher's cache
  euid?: number;
  gid?: number;
  comm: string;
}

export class ProcReader {
  readonly root: string;
  #buf = Buffer.allocUnsafe(64 * 1024);

  constructor(root = '/proc') {
    this.root = root;
  }

  /** A whole (small, size-less) /proc file as text, or undefined if it cannot be read. */
  read(path: string): string | undefined {
    let fd: number;
    try {
      fd = openSync(`${this.root}/${path}`, 'r');
    } catch {
      return undefined;
    }
    try {
      let len = 0;
      for (;;) {
        if (len === this.#buf.length) this.#buf = Buffer.concat([this.#buf, Buffer.allocUnsafe(this.#buf.length)]);
        const n = readSync(fd, this.#buf, len, this.#buf.length - len, null);
        if (n === 0) break;
        len += n;
      }
      return this.#buf.toString('utf8', 0, len);
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }

  link(path: string): string | undefined {
    try {
      return readlinkSync(`${this.root}/${path}`);
    } catch {
      return undefined;
    }
  }

  /** The identity of the file a process runs (device, inode, size, mtime), if this agent may see it. */
  executableFile(pid: number): ExecutableFile | undefined {
    try {
      const st = statSync(`${this.root}/${pid}/exe`, { bigint: true });
      return { device: Number(st.dev), inode: Number(st.ino), size: Number(st.size), mtimeNs: st.mtimeNs };
    } catch {
      return undefined;
    }
  }

  pids(): number[] {
    const out: number[] = [];
    for (const name of readdirSync(this.root)) {
      const c = name.charCodeAt(0);
      if (c >= 48 && c <= 57) out.push(Number(name));
    }
    return out;
  }

  stat(pid: number): ProcStat | undefined {
    const text = this.read(`${pid}/stat`);
    return text === undefined ? undefined : parseStat(text);
  }

  bootInfo(): { btimeS: number; forks: number } {
    return parseProcStat(this.read('stat') ?? '');
  }

  /**
   * What /proc tells about a process. The executable is the /proc/<pid>/exe link; without the
   * privilege to read it, argv[0] stands in and `executableFromArgs` says so.
   */
  details(stat: ProcStat, btimeS: number): ProcessDetails {
    const pid = stat.pid;
    const args = parseCmdline(this.read(`${pid}/cmdline`) ?? '');
    const exe = this.link(`${pid}/exe`)?.replace(/ \(deleted\)$/, '');
    const ids = parseStatusIds(this.read(`${pid}/status`) ?? '');
    return {
      pid,
      ppid: stat.ppid,
      startTimeMs: procStartTimeMs(stat.startTicks, btimeS),
      executable: exe ?? args[0],
      executableFromArgs: exe === undefined && args.length > 0,
      executableFile: exe === undefined ? undefined : this.executableFile(pid),
      args,
      cwd: this.link(`${pid}/cwd`),
      uid: ids.uid,
      euid: ids.euid,
      gid: ids.gid,
      comm: stat.comm,
    };
  }

  /** Socket inodes held open by a process (needs the privilege to read its fd table). */
  socketInodes(pid: number): number[] {
    let fds: string[];
    try {
      fds = readdirSync(`${this.root}/${pid}/fd`);
    } catch {
      return [];
    }
    const out: number[] = [];
    for (const fd of fds) {
      const target = this.link(`${pid}/fd/${fd}`);
      if (target?.startsWith('socket:[')) out.push(Number(target.slice(8, -1)));
    }
    return out;
  }

  /** Every current user-space process, e.g. to seed the process cache at agent start. */
  readAllProcesses(userName?: (uid: number) => string | undefined): ProcessRecord[] {
    const { btimeS } = this.bootInfo();
    const out: ProcessRecord[] = [];
    for (const pid of this.pids()) {
      const stat = this.stat(pid);
      if (!stat || isKernelThread(stat)) continue;
      const d = this.details(stat, btimeS);
      out.push({
        pid: d.pid,
        ppid: d.ppid,
        startTimeMs: d.startTimeMs,
        executable: d.executable,
        args: d.args,
        cwd: d.cwd,
        uid: d.uid,
        user: d.uid === undefined ? undefined : userName?.(d.uid),
      });
    }
    return out;
  }
}
