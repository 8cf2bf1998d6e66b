// The vigil-sensor wire format, agent side (docs/sensor.md): reassembles frames from the sensor's byte
// stream, validates them and decodes each into an Observation, a stats report or a hello. Never
// throws on bad input: a frame that is malformed is counted and skipped, and after a bad header the
// reader resynchronises on the next magic. Pure: bytes in, values out.

import type { EventType } from '../../../schema/event.ts';
import type { ExecutableFile, Observation } from '../../sensor.ts';
import { parseDnsMessage } from './dns.ts';

export const WIRE_MAGIC = 0x4c474956; // "VIGL" little-endian
export const WIRE_VERSION = 1;
export const HEADER_SIZE = 12;
export const MAX_FRAME = 65_535;
const MAGIC_BYTES = Buffer.from([0x56, 0x49, 0x47, 0x4c]);

/** Frame types: kernel record kinds (sensor/src/vigil.h) and the sensor's own reports. */
export const FRAME = {
  exec: 1, fork: 2, exit: 3, connect: 4, accept: 5, udpSend: 6,
  fileCreate: 7, fileWrite: 8, fileDelete: 9, fileRename: 10, fileChmod: 11, fileChown: 12,
  setuid: 13, setgid: 14, ptrace: 15, module: 16, dns: 17,
  stats: 100, hello: 101,
} as const;

export const FLAG = { argsTruncated: 0x1, pathTruncated: 0x2, fileless: 0x4, traceme: 0x8, dnsAnswer: 0x10 } as const;

/** Bytes of the fields every kernel record starts with (after the frame header). */
export const COMMON_SIZE = 72;

export interface SensorStats {
  monotonicNs: bigint;
  ringDrops: number; // ring-buffer reserve failures in the kernel, since the sensor started
  received: number; // kernel records read
  badRecords: number; // kernel records the sensor could not decode
  framesWritten: number;
  undelivered: number; // frames the sensor could not hand over
  perKind: number[]; // kernel records per kind
}

export interface SensorHello {
  version: number;
  pid: number;
  attached: string[];
  disabled: string[];
}

export type Frame =
  | { kind: 'observation'; observation: Observation }
  | { kind: 'stats'; stats: SensorStats }
  | { kind: 'hello'; hello: SensorHello };

export interface DecoderCounters {
  frames: number;
  badFrames: number; // wrong length, version or contents
  resyncs: number; // times the stream was searched for the next magic
  skippedBytes: number; // bytes dropped while resynchronising
  unknownTypes: number;
}

/** Converts the sensor's boot-time nanoseconds into the wall-clock start time shared with /proc. */
export type StartTimeOf = (bootNs: number) => number;

class Malformed extends Error {}

/** Bounds-checked little-endian reader over one frame. */
class Cursor {
  buf: Buffer;
  pos: number;
  end: number;

  constructor(buf: Buffer, pos: number, end: number) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  reset(buf: Buffer, pos: number, end: number): this {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    return this;
  }

  need(n: number): number {
    const at = this.pos;
    if (at + n > this.end) throw new Malformed(`frame ends ${at + n - this.end} bytes early`);
    this.pos += n;
    return at;
  }

  u8(): number { return this.buf[this.need(1)]; }
  u16(): number { return this.buf.readUInt16LE(this.need(2)); }
  u32(): number { return this.buf.readUInt32LE(this.need(4)); }
  i32(): number { return this.buf.readInt32LE(this.need(4)); }
  u64n(): number { // as a number: exact below 2^53
    const at = this.need(8);
    return this.buf.readUInt32LE(at) + this.buf.readUInt32LE(at + 4) * 0x1_0000_0000;
  }
  u64(): bigint { return this.buf.readBigUInt64LE(this.need(8)); }

  /** A u16-length-prefixed blob: its [start, end) in buf. */
  blob(): [number, number] {
    const len = this.u16();
    const at = this.need(len);
    return [at, at + len];
  }

  str(): string {
    const [s, e] = this.blob();
    return this.buf.toString('utf8', s, e);
  }
}

/** Reassembles and decodes frames. Feed it the sensor's output in chunks of any size. */
export class FrameDecoder {
  readonly counters: DecoderCounters = { frames: 0, badFrames: 0, resyncs: 0, skippedBytes: 0, unknownTypes: 0 };
  lastError = '';
  #startTimeOf: StartTimeOf;
  #cursor = new Cursor(Buffer.alloc(0), 0, 0);
  #pending = Buffer.allocUnsafe(2 * (MAX_FRAME + 1)); // an incomplete frame carried to the next chunk
  #pendingLen = 0;

  constructor(startTimeOf: StartTimeOf) {
    this.#startTimeOf = startTimeOf;
  }

  /** Forgets a partial frame (a new sensor run starts a new stream). */
  reset(): void {
    this.#pendingLen = 0;
  }

  /** Decodes every complete frame in `chunk` (after what earlier chunks left over). */
  push(chunk: Buffer, onFrame: (f: Frame) => void): void {
    let buf = chunk;
    let len = chunk.length;
    if (this.#pendingLen > 0) {
      const room = this.#pending.length - this.#pendingLen;
      const take = Math.min(room, chunk.length);
      chunk.copy(this.#pending, this.#pendingLen, 0, take);
      this.#pendingLen += take;
      const used = this.#consume(this.#pending, this.#pendingLen, onFrame);
      const leftInPending = this.#pendingLen - used;
      if (take === chunk.length) { // everything is in pending: keep the remainder there
        this.#pending.copyWithin(0, used, this.#pendingLen);
        this.#pendingLen = leftInPending;
        return;
      }
      // pending held less than a frame's worth before; continue in the chunk where pending ended
      buf = chunk.subarray(take - leftInPending);
      len = buf.length;
      this.#pendingLen = 0;
    }
    const used = this.#consume(buf, len, onFrame);
    buf.copy(this.#pending, 0, used, len);
    this.#pendingLen = len - used;
  }

  /** Decodes the frames in buf[0, len); returns how many bytes were used. */
  #consume(buf: Buffer, len: number, onFrame: (f: Frame) => void): number {
    let pos = 0;
    while (len - pos >= HEADER_SIZE) {
      const size = buf.readUInt32LE(pos + 4);
      if (buf.readUInt32LE(pos) !== WIRE_MAGIC || size < HEADER_SIZE || size > MAX_FRAME) {
        pos = this.#resync(buf, pos, len, `bad frame header at stream offset ${pos}`);
        continue;
      }
      if (len - pos < size) break;
      this.#decodeFrame(buf, pos, size, onFrame);
      pos += size;
    }
    return pos;
  }

  /** Skips to the next magic after `pos` (or to the last bytes that could start one). */
  #resync(buf: Buffer, pos: number, len: number, why: string): number {
    this.counters.badFrames++;
    this.counters.resyncs++;
    this.lastError = why;
    const next = buf.subarray(0, len).indexOf(MAGIC_BYTES, pos + 1);
    const to = next >= 0 ? next : Math.max(pos + 1, len - (MAGIC_BYTES.length - 1));
    this.counters.skippedBytes += to - pos;
    return to;
  }

  #decodeFrame(buf: Buffer, pos: number, size: number, onFrame: (f: Frame) => void): void {
    const version = buf[pos + 8];
    const type = buf[pos + 9];
    const flags = buf.readUInt16LE(pos + 10);
    if (version !== WIRE_VERSION) {
      this.#bad(`frame version ${version}, expected ${WIRE_VERSION}`);
      return;
    }
    const c = this.#cursor.reset(buf, pos + HEADER_SIZE, pos + size);
    let frame: Frame | undefined;
    try {
      if (type === FRAME.stats) frame = { kind: 'stats', stats: decodeStats(c) };
      else if (type === FRAME.hello) frame = { kind: 'hello', hello: decodeHello(c) };
      else {
        const observation = decodeRecord(c, type, flags, this.#startTimeOf);
        if (observation) frame = { kind: 'observation', observation };
      }
    } catch (err) {
      if (!(err instanceof Malformed || err instanceof RangeError)) throw err;
      this.#bad(`type ${type}: ${err.message}`);
      return;
    }
    if (!frame) {
      this.counters.unknownTypes++;
      return;
    }
    this.counters.frames++;
    onFrame(frame);
  }

  #bad(why: string): void {
    this.counters.badFrames++;
    this.lastError = why;
  }
}

function decodeStats(c: Cursor): SensorStats {
  const monotonicNs = c.u64();
  c.u64(); // wall clock
  const stats: SensorStats = {
    monotonicNs, ringDrops: c.u64n(), received: c.u64n(), badRecords: c.u64n(),
    framesWritten: c.u64n(), undelivered: c.u64n(), perKind: [],
  };
  const kinds = c.u32();
  if (kinds > 256) throw new Malformed(`${kinds} kinds in stats`);
  for (let i = 0; i < kinds; i++) stats.perKind.push(c.u64n());
  return stats;
}

function decodeHello(c: Cursor): SensorHello {
  const version = c.u32();
  const pid = c.u32();
  c.u64(); // monotonic
  c.u64(); // wall clock
  const list = (s: string) => (s ? s.split(',') : []);
  return { version, pid, attached: list(c.str()), disabled: list(c.str()) };
}

const NET_TYPE: Record<number, EventType> = {
  [FRAME.connect]: 'network_connection', [FRAME.accept]: 'network_accept', [FRAME.udpSend]: 'network_send',
};
const FILE_TYPE: Record<number, EventType> = {
  [FRAME.fileCreate]: 'file_create', [FRAME.fileWrite]: 'file_write', [FRAME.fileDelete]: 'file_delete',
  [FRAME.fileRename]: 'file_rename', [FRAME.fileChmod]: 'file_chmod', [FRAME.fileChown]: 'file_chown',
};
export const CRED_OPS = ['', 'setuid', 'setgid', 'setreuid', 'setregid', 'setresuid', 'setresgid', 'setfsuid', 'setfsgid'];
const PTRACE_REQUESTS: Record<number, string> = { 0: 'traceme', 16: 'attach', 0x4206: 'seize' };
const UNCHANGED = 0xffff_ffff;

/** A kernel record's observation; undefined for a type this agent does not know. */
function decodeRecord(c: Cursor, type: number, flags: number, startTimeOf: StartTimeOf): Observation | undefined {
  const eventType = recordEventType(type, flags);
  if (!eventType) return undefined;
  const monotonicNs = c.u64();
  const wallNs = c.u64n();
  const startNs = c.u64n();
  const cgroupLo = c.u32();
  const cgroupHi = c.u32();
  const o: Observation = {
    type: eventType,
    timeMs: Math.floor(wallNs / 1e6),
    monotonicNs,
    pid: c.u32(),
    tid: c.u32(),
    ppid: c.u32(),
    uid: c.u32(),
    gid: c.u32(),
    euid: c.u32(),
    comm: cString(c),
    cgroupId: cgroupHi === 0 ? String(cgroupLo) : (BigInt(cgroupHi) * 0x1_0000_0000n + BigInt(cgroupLo)).toString(),
    startTimeMs: startTimeOf(startNs),
  };
  if (flags & FLAG.pathTruncated) o.pathTruncated = true;
  if (type === FRAME.exec) decodeExec(c, o, flags);
  else if (type === FRAME.exit) {
    o.exitCode = c.u32();
    const signal = c.u32();
    if (signal !== 0) o.signal = signal;
  } else if (NET_TYPE[type]) decodeNet(c, o, type);
  else if (FILE_TYPE[type]) decodeFile(c, o, type);
  else if (type === FRAME.setuid || type === FRAME.setgid) decodeCred(c, o);
  else if (type === FRAME.ptrace) {
    o.targetPid = c.u32();
    o.action = `ptrace_${PTRACE_REQUESTS[c.u32()] ?? 'request'}`;
    o.result = c.i32();
  } else if (type === FRAME.module) o.moduleName = c.str();
  else if (type === FRAME.dns) decodeDns(c, o, flags);
  return o;
}

function recordEventType(type: number, flags: number): EventType | undefined {
  switch (type) {
    case FRAME.exec: return flags & FLAG.fileless ? 'memfd_exec' : 'process_start';
    case FRAME.fork: return 'process_fork';
    case FRAME.exit: return 'process_end';
    case FRAME.setuid: case FRAME.setgid: return 'privilege_change';
    case FRAME.ptrace: return 'ptrace';
    case FRAME.module: return 'module_load';
    case FRAME.dns: return 'dns';
  }
  return NET_TYPE[type] ?? FILE_TYPE[type];
}

function cString(c: Cursor): string {
  const at = c.need(16);
  let end = at;
  while (end < at + 16 && c.buf[end] !== 0) end++;
  return c.buf.toString('utf8', at, end);
}

function decodeExec(c: Cursor, o: Observation, flags: number): void {
  o.executable = c.str();
  const [s, e] = c.blob();
  o.args = splitArgs(c.buf, s, e);
  if (flags & FLAG.argsTruncated) o.argsTruncated = true;
  o.cwd = c.str();
  if (c.end - c.pos >= EXEC_IDENTITY_SIZE) o.executableFile = decodeExecIdentity(c); // absent before 2026-12-08
}

/** The executed file's identity after an exec's strings: inode, device (stat(2)'s), size, mtime in ns. */
const EXEC_IDENTITY_SIZE = 32;

function decodeExecIdentity(c: Cursor): ExecutableFile {
  const inode = c.u64n();
  const device = c.u64n();
  const size = c.u64n();
  const mtimeNs = c.u64();
  return { inode, device, size, mtimeNs: BigInt.asIntN(64, mtimeNs) };
}

/**
 * argv as the kernel keeps it: each argument NUL-terminated (the last one's NUL may be cut off). The
 * array is made at its exact length: the process cache keeps it (one grown by push has room for 17).
 */
export function splitArgs(buf: Buffer, start: number, end: number): string[] {
  let count = 0;
  for (let i = start; i < end; i++) if (buf[i] === 0) count++;
  const args = new Array<string>(buf[end - 1] === 0 || start === end ? count : count + 1);
  let from = start;
  let n = 0;
  for (let i = start; i < end; i++) {
    if (buf[i] !== 0) continue;
    args[n++] = buf.toString('utf8', from, i);
    from = i + 1;
  }
  if (from < end) args[n] = buf.toString('utf8', from, end);
  return args;
}

/**
 * A DNS message sent to port 53 or received from it: the socket's addresses as for a UDP send (source: this
 * process's end, destination: the resolver's, whichever way the message went), then the message, parsed.
 */
function decodeDns(c: Cursor, o: Observation, flags: number): void {
  decodeNet(c, o, FRAME.udpSend);
  delete o.result;
  const [s, e] = c.blob();
  const answer = (flags & FLAG.dnsAnswer) !== 0;
  o.action = answer ? 'answer' : 'query';
  o.dns = parseDnsMessage(c.buf.subarray(s, e), o.transport === 'tcp') ?? { type: answer ? 'answer' : 'query' };
}

function decodeNet(c: Cursor, o: Observation, type: number): void {
  const family = c.u8();
  const proto = c.u8();
  const localPort = c.u16();
  const remotePort = c.u16();
  c.u16();
  const result = c.i32();
  const localAt = c.need(16);
  const remoteAt = c.need(16);
  if (family !== 4 && family !== 6) throw new Malformed(`address family ${family}`);
  o.family = family === 4 ? 'ipv4' : 'ipv6';
  o.transport = proto === 17 ? 'udp' : 'tcp';
  const local = ipString(c.buf, localAt, family);
  const remote = ipString(c.buf, remoteAt, family);
  if (type === FRAME.accept) {
    o.direction = 'inbound';
    Object.assign(o, { srcIp: remote, srcPort: remotePort, dstIp: local, dstPort: localPort });
  } else {
    o.direction = 'outbound';
    Object.assign(o, { srcIp: local, srcPort: localPort, dstIp: remote, dstPort: remotePort });
    o.result = result;
  }
}

export function ipString(buf: Buffer, at: number, family: number): string {
  if (family === 4) return `${buf[at]}.${buf[at + 1]}.${buf[at + 2]}.${buf[at + 3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(buf.readUInt16BE(at + 2 * i).toString(16));
  return compressIpv6(groups);
}

/** RFC 5952 text: the longest run (two or more) of zero groups becomes "::". */
function compressIpv6(groups: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j > i ? j : i + 1;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function decodeFile(c: Cursor, o: Observation, type: number): void {
  const mode = c.u32();
  const uid = c.u32();
  const gid = c.u32();
  o.path = c.str();
  if (type === FRAME.fileRename) o.targetPath = c.str();
  if (type === FRAME.fileChown) {
    if (uid !== UNCHANGED) o.ownerUid = uid;
    if (gid !== UNCHANGED) o.ownerGid = gid;
  } else if (type !== FRAME.fileDelete && type !== FRAME.fileRename) {
    o.mode = mode & 0o7777;
  }
}

function decodeCred(c: Cursor, o: Observation): void {
  o.uid = c.u32();
  o.newUid = c.u32(); // effective uid after the call
  o.gid = c.u32();
  o.newGid = c.u32(); // effective gid after the call
  o.action = CRED_OPS[c.u32()] ?? 'setid';
  o.result = c.i32();
}
