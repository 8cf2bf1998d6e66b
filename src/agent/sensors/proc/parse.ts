// Parsers for the /proc files the /proc sensor reads: /proc/<pid>/stat, status and cmdline,
// /proc/stat (boot time, fork count), /proc/net/{tcp,tcp6,udp,udp6}, and /etc/passwd; plus the
// start-time formula shared with the eBPF sensor so that both derive the same entity ids.
// Pure: text in, values out.

import { endianness } from 'node:os';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ; 100 on every Linux architecture in use). */
export const CLK_TCK = 100;

/**
 * Wall-clock start time in ms of a process from its /proc/<pid>/stat starttime (field 22, in clock
 * ticks since boot) and the boot time (btime of /proc/stat, in seconds). The eBPF sensor converts its
 * boot-time nanoseconds to ticks (⌊ns / 10⁷⌋) and calls this too, so both sensors give the same ids.
 */
export function procStartTimeMs(ticks: number, btimeS: number): number {
  return btimeS * 1000 + ticks * (1000 / CLK_TCK);
}

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  flags: number;
  numThreads: number;
  startTicks: number;
}

const PF_KTHREAD = 0x0020_0000;

/** Parse /proc/<pid>/stat. The comm field may hold spaces and parentheses: it ends at the LAST ')'. */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const rest = text.slice(close + 2).split(' '); // rest[0] is field 3 (state)
  const field = (n: number) => Number(rest[n - 3]);
  const stat: ProcStat = {
    pid: Number(text.slice(0, open).trim()),
    comm: text.slice(open + 1, close),
    state: rest[0],
    ppid: field(4),
    flags: field(9),
    numThreads: field(20),
    startTicks: field(22),
  };
  return Number.isInteger(stat.pid) && Number.isFinite(stat.startTicks) ? stat : undefined;
}

export function isKernelThread(stat: ProcStat): boolean {
  return (stat.flags & PF_KTHREAD) !== 0;
}

/** Real and effective uid and real gid from /proc/<pid>/status. */
export function parseStatusIds(text: string): { uid?: number; euid?: number; gid?: number } {
  const ids = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+(\\d+)`, 'm').exec(text);
    return m ? [Number(m[1]), Number(m[2])] : [];
  };
  const [uid, euid] = ids('Uid');
  const [gid] = ids('Gid');
  return { uid, euid, gid };
}

/** argv from /proc/<pid>/cmdline: NUL-separated, normally NUL-terminated. */
export function parseCmdline(text: string): string[] {
  if (text.length === 0) return [];
  const parts = text.split('\0');
  if (parts.at(-1) === '') parts.pop();
  return parts;
}

/** Boot time (seconds) and total forks since boot, from /proc/stat. */
export function parseProcStat(text: string): { btimeS: number; forks: number } {
  const num = (key: string) => Number(new RegExp(`^${key} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
  return { btimeS: num('btime'), forks: num('processes') };
}

export type Transport = 'tcp' | 'udp';
export type Family = 'ipv4' | 'ipv6';

export interface NetSocket {
  transport: Transport;
  family: Family; // of the addresses (an IPv4-mapped IPv6 address is reported as IPv4)
  localIp: string;
  localPort: number;
  remoteIp: string;
  remotePort: number;
  state: number;
  uid: number;
  inode: number;
}

export const TCP_ESTABLISHED = 0x01;
export const TCP_SYN_SENT = 0x02;
export const TCP_LISTEN = 0x0a;

/** Parse one of /proc/net/{tcp,tcp6,udp,udp6}; sockets without an inode (TIME_WAIT) are skipped. */
export function parseNetTable(text: string, transport: Transport, littleEndian = endianness() === 'LE'): NetSocket[] {
  const out: NetSocket[] = [];
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const f = lines[i].trim().split(/\s+/);
    if (f.length < 10) continue;
    const inode = Number(f[9]);
    if (!inode) continue;
    const local = decodeSocketAddress(f[1], littleEndian);
    const remote = decodeSocketAddress(f[2], littleEndian);
    if (!local || !remote) continue;
    out.push({
      transport,
      family: local.family,
      localIp: local.ip,
      localPort: local.port,
      remoteIp: remote.ip,
      remotePort: remote.port,
      state: parseInt(f[3], 16),
      uid: Number(f[7]),
      inode,
    });
  }
  return out;
}

/**
 * Decode "ADDR:PORT" of /proc/net. The port is plain hex. The address is the kernel's in-memory
 * bytes printed as 32-bit words (%08X each), so on a little-endian host every 4-byte group comes out
 * byte-reversed: 127.0.0.1 is "0100007F", and ::1 is "00000000000000000000000001000000".
 */
export function decodeSocketAddress(
  hex: string,
  littleEndian = endianness() === 'LE',
): { ip: string; port: number; family: Family } | undefined {
  const colon = hex.indexOf(':');
  const addr = hex.slice(0, colon);
  const port = parseInt(hex.slice(colon + 1), 16);
  if (colon < 0 || (addr.length !== 8 && addr.length !== 32) || !/^[0-9A-Fa-f]+$/.test(addr)) return undefined;
  const bytes = Buffer.from(addr, 'hex');
  if (littleEndian) for (let w = 0; w < bytes.length; w += 4) bytes.subarray(w, w + 4).reverse();
  if (bytes.length === 4) return { ip: formatIPv4(bytes), port, family: 'ipv4' };
  if (isV4Mapped(bytes)) return { ip: formatIPv4(bytes.subarray(12)), port, family: 'ipv4' };
  return { ip: formatIPv6(bytes), port, family: 'ipv6' };
}

function formatIPv4(b: Uint8Array): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

function isV4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** RFC 5952 text form: lower case, no leading zeros, the longest run (≥ 2) of zero groups as "::". */
export function formatIPv6(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [bestStart, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (g: number[]) => g.map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** uid → user name from /etc/passwd text. */
export function parsePasswd(text: string): Map<number, string> {
  const users = new Map<number, string>();
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 3 && f[0] && /^\d+$/.test(f[2]) && !users.has(Number(f[2]))) users.set(Number(f[2]), f[0]);
  }
  return users;
}
