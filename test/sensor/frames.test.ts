// The vigil-sensor frame decoder: frames split anywhere, garbage, bad lengths, bad versions and unknown
// types are counted and skipped without losing the good frames around them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, FRAME, FLAG, WIRE_MAGIC, WIRE_VERSION } from '../../src/agent/sensors/ebpf/index.ts';
import type { Frame } from '../../src/agent/sensors/ebpf/index.ts';
import { dnsAnswer, dnsQuery } from '../support/dns-responder.ts';

/** Little-endian frame builder mirroring sensor/src/wire.c, for test input. */
class FrameBuilder {
  parts: Buffer[] = [];
  u8(v: number) { this.parts.push(Buffer.from([v])); return this; }
  u16(v: number) { const b = Buffer.alloc(2); b.writeUInt16LE(v); this.parts.push(b); return this; }
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.parts.push(b); return this; }
  u64(v: bigint) { const b = Buffer.alloc(8); b.writeBigUInt64LE(v); this.parts.push(b); return this; }
  bytes(b: Buffer) { this.parts.push(b); return this; }
  str(s: string | Buffer) { const b = Buffer.from(s); return this.u16(b.length).bytes(b); }
  frame(type: number, flags = 0, version = WIRE_VERSION): Buffer {
    const body = Buffer.concat(this.parts);
    const h = Buffer.alloc(12);
    h.writeUInt32LE(WIRE_MAGIC, 0);
    h.writeUInt32LE(12 + body.length, 4);
    h[8] = version;
    h[9] = type;
    h.writeUInt16LE(flags, 10);
    return Buffer.concat([h, body]);
  }
}

const BOOT_NS = 5_000_000_000n; // 5 s after boot
const startTimeOf = (ns: number) => 1_000_000 + ns / 1e6;

function common(pid: number, comm = 'true'): FrameBuilder {
  const c = Buffer.alloc(16);
  c.write(comm);
  return new FrameBuilder().u64(123n).u64(1_700_000_000_123_000_000n).u64(BOOT_NS).u64(77n)
    .u32(pid).u32(pid).u32(1).u32(1000).u32(1000).u32(0).bytes(c);
}

function execFrame(pid: number, args: string[], flags = 0): Buffer {
  return common(pid).str('/usr/bin/true').str(Buffer.from(args.map((a) => `${a}\0`).join(''))).str('/tmp').frame(FRAME.exec, flags);
}

function decodeAll(chunks: Buffer[]): { frames: Frame[]; decoder: FrameDecoder } {
  const decoder = new FrameDecoder(startTimeOf);
  const frames: Frame[] = [];
  for (const c of chunks) decoder.push(c, (f) => frames.push(f));
  return { frames, decoder };
}

function observations(frames: Frame[]) {
  return frames.flatMap((f) => (f.kind === 'observation' ? [f.observation] : []));
}

test('an exec frame decodes into a process_start observation with every common field', () => {
  const { frames, decoder } = decodeAll([execFrame(42, ['true', 'a b', ''], FLAG.argsTruncated)]);
  assert.equal(decoder.counters.badFrames, 0);
  const [o] = observations(frames);
  assert.deepEqual(o, {
    type: 'process_start', timeMs: 1_700_000_000_123, monotonicNs: 123n, pid: 42, tid: 42, ppid: 1,
    uid: 1000, gid: 1000, euid: 0, comm: 'true', cgroupId: '77', startTimeMs: 1_005_000,
    executable: '/usr/bin/true', args: ['true', 'a b', ''], argsTruncated: true, cwd: '/tmp',
  });
});

test('a fileless exec is a memfd_exec', () => {
  const [o] = observations(decodeAll([execFrame(7, ['x'], FLAG.fileless)]).frames);
  assert.equal(o.type, 'memfd_exec');
});

test('frames split at every byte boundary decode the same', () => {
  const stream = Buffer.concat([execFrame(1, ['a']), execFrame(2, ['b']), execFrame(3, ['c'])]);
  for (let cut = 1; cut < stream.length; cut++) {
    const { frames, decoder } = decodeAll([stream.subarray(0, cut), stream.subarray(cut)]);
    assert.deepEqual(observations(frames).map((o) => o.pid), [1, 2, 3], `cut at ${cut}`);
    assert.equal(decoder.counters.badFrames, 0);
  }
  const bytewise = decodeAll([...stream].map((b) => Buffer.from([b])));
  assert.deepEqual(observations(bytewise.frames).map((o) => o.pid), [1, 2, 3]);
});

test('garbage before and between frames is skipped by resynchronising on the magic', () => {
  const junk = Buffer.from('not a frame at all, VIG but no magic');
  const { frames, decoder } = decodeAll([Buffer.concat([junk, execFrame(1, ['a']), junk, execFrame(2, ['b'])])]);
  assert.deepEqual(observations(frames).map((o) => o.pid), [1, 2]);
  assert.equal(decoder.counters.resyncs, 2);
  assert.ok(decoder.counters.skippedBytes >= junk.length * 2 - 6);
});

test('a frame whose blob overruns it is counted and the next frame still decodes', () => {
  const bad = common(9).u16(500).bytes(Buffer.from('short')).frame(FRAME.exec);
  const { frames, decoder } = decodeAll([Buffer.concat([bad, execFrame(2, ['ok'])])]);
  assert.deepEqual(observations(frames).map((o) => o.pid), [2]);
  assert.equal(decoder.counters.badFrames, 1);
  assert.match(decoder.lastError, /type 1: frame ends \d+ bytes early/);
});

test('a bad length, a wrong version and an unknown type are counted, not decoded', () => {
  const hugeLength = execFrame(5, ['x']);
  hugeLength.writeUInt32LE(1_000_000, 4);
  const { frames, decoder } = decodeAll([Buffer.concat([
    hugeLength, execFrame(6, ['v'], 0).fill(WIRE_VERSION + 1, 8, 9), common(7).frame(77), execFrame(8, ['good']),
  ])]);
  assert.deepEqual(observations(frames).map((o) => o.pid), [8]);
  assert.equal(decoder.counters.unknownTypes, 1);
  assert.ok(decoder.counters.badFrames >= 2);
});

test('network records: connect is outbound from the local port, accept inbound from the peer; IPv6 compressed', () => {
  const v6 = (last: number) => { const b = Buffer.alloc(16); b[15] = last; return b; };
  const net = (type: number, family: number, local: Buffer, remote: Buffer) => common(3).u8(family).u8(6)
    .u16(40000).u16(8080).u16(0).u32(0).bytes(local).bytes(remote).frame(type);
  const v4 = Buffer.alloc(16);
  v4.set([127, 0, 0, 1]);
  const [connect, accept] = observations(decodeAll([
    net(FRAME.connect, 4, v4, v4), net(FRAME.accept, 6, v6(1), v6(2)),
  ]).frames);
  assert.equal(connect.type, 'network_connection');
  assert.deepEqual([connect.srcIp, connect.srcPort, connect.dstIp, connect.dstPort, connect.direction, connect.result],
    ['127.0.0.1', 40000, '127.0.0.1', 8080, 'outbound', 0]);
  assert.equal(accept.type, 'network_accept');
  assert.deepEqual([accept.srcIp, accept.srcPort, accept.dstIp, accept.dstPort, accept.direction, accept.family],
    ['::2', 8080, '::1', 40000, 'inbound', 'ipv6']);
});

test('file, credential and ptrace records', () => {
  const [rename, chown, setresuid, ptrace] = observations(decodeAll([
    common(4).u32(0).u32(0xffffffff).u32(0xffffffff).str('/a/x').str('/a/y').frame(FRAME.fileRename),
    common(4).u32(0).u32(0xffffffff).u32(50).str('/a/y').frame(FRAME.fileChown),
    common(4).u32(0).u32(0).u32(1).u32(1).u32(5).u32(-1).frame(FRAME.setuid),
    common(4).u32(99).u32(0x4206).u32(0).frame(FRAME.ptrace),
  ]).frames);
  assert.deepEqual([rename.type, rename.path, rename.targetPath], ['file_rename', '/a/x', '/a/y']);
  assert.deepEqual([chown.type, chown.ownerUid, chown.ownerGid], ['file_chown', undefined, 50]);
  assert.deepEqual([setresuid.type, setresuid.action, setresuid.newUid, setresuid.result], ['privilege_change', 'setresuid', 0, -1]);
  assert.deepEqual([ptrace.type, ptrace.action, ptrace.targetPid], ['ptrace', 'ptrace_seize', 99]);
});

test('stats and hello frames', () => {
  const stats = new FrameBuilder().u64(1n).u64(2n).u64(3n).u64(10n).u64(0n).u64(9n).u64(1n).u32(2).u64(4n).u64(6n).frame(FRAME.stats);
  const hello = new FrameBuilder().u32(1).u32(321).u64(0n).u64(0n).str('a,b').str('').frame(FRAME.hello);
  const { frames } = decodeAll([Buffer.concat([hello, stats])]);
  assert.deepEqual(frames, [
    { kind: 'hello', hello: { version: 1, pid: 321, attached: ['a', 'b'], disabled: [] } },
    { kind: 'stats', stats: { monotonicNs: 1n, ringDrops: 3, received: 10, badRecords: 0, framesWritten: 9, undelivered: 1, perKind: [4, 6] } },
  ]);
});

test("an exec frame's file identity, when the sensor appends it; a DNS frame's message parsed, or its type alone when it is not DNS", () => {
  const identity = common(42).str('/usr/bin/true').str(Buffer.from('true\0')).str('/tmp')
    .u64(2146571n).u64(65024n).u64(39760n).u64(1_765_152_000_123_456_789n).frame(FRAME.exec);
  const [exec] = observations(decodeAll([identity]).frames);
  assert.deepEqual(exec.executableFile, { inode: 2146571, device: 65024, size: 39760, mtimeNs: 1_765_152_000_123_456_789n });
  assert.equal(observations(decodeAll([execFrame(42, ['true'])]).frames)[0].executableFile, undefined, 'an older sensor: no identity');

  const net = (b: FrameBuilder) => b.u8(4).u8(17).u16(40000).u16(53).u16(0).u32(0)
    .bytes(Buffer.from([127, 0, 0, 1, ...Buffer.alloc(12)])).bytes(Buffer.from([127, 0, 0, 53, ...Buffer.alloc(12)]));
  const answer = net(common(43, 'getent')).str(dnsAnswer(dnsQuery(5, 'a.example'), '192.0.2.1')).frame(FRAME.dns, FLAG.dnsAnswer);
  const garbage = net(common(43, 'getent')).str(Buffer.from('not dns')).frame(FRAME.dns);
  const { frames, decoder } = decodeAll([answer, garbage]);
  assert.equal(decoder.counters.badFrames, 0);
  const [a, g] = observations(frames);
  assert.deepEqual([a.type, a.action, a.srcIp, a.srcPort, a.dstIp, a.dstPort, a.transport, a.dns?.resolved_ip, a.dns?.question?.name],
    ['dns', 'answer', '127.0.0.1', 40000, '127.0.0.53', 53, 'udp', ['192.0.2.1'], 'a.example']);
  assert.deepEqual([g.type, g.action, g.dns], ['dns', 'query', { type: 'query' }]);
});
