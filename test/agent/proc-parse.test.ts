import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeSocketAddress,
  formatIPv6,
  parseCmdline,
  parseNetTable,
  parsePasswd,
  parseProcStat,
  parseStat,
  parseStatusIds,
  procStartTimeMs,
} from '../../src/agent/sensors/proc/parse.ts';

// A stat line with the fields numbered as in proc(5): field n holds the value n (from field 3 on).
function statLine(pid: number, comm: string, fields: Record<number, string | number> = {}): string {
  const rest: (string | number)[] = [];
  for (let n = 3; n <= 52; n++) rest.push(fields[n] ?? n);
  return `${pid} (${comm}) ${rest.join(' ')}\n`;
}

test('stat: comm with spaces and parentheses ends at the last closing parenthesis', () => {
  const s = parseStat(statLine(4242, 'my (weird) name) x', { 3: 'S', 4: 17, 9: 0x400040, 20: 3, 22: 123456 }))!;
  assert.equal(s.pid, 4242);
  assert.equal(s.comm, 'my (weird) name) x');
  assert.equal(s.state, 'S');
  assert.equal(s.ppid, 17);
  assert.equal(s.numThreads, 3);
  assert.equal(s.startTicks, 123456);
  assert.equal(parseStat('garbage'), undefined);
  const self = parseStat('17989 (cat) R 17984 17984 12933 0 -1 4194304 99 0 0 0 0 0 0 0 20 0 1 0 1069020 3133440 381 0')!;
  assert.deepEqual([self.ppid, self.flags, self.numThreads, self.startTicks], [17984, 4194304, 1, 1069020]);
});

test('start time: btime seconds plus ticks at 100 Hz, in ms', () => {
  assert.equal(procStartTimeMs(1069020, 1795420957), 1795420957000 + 10690200);
  assert.equal(procStartTimeMs(0, 10), 10_000);
});

test('/proc/stat, status, cmdline and passwd', () => {
  assert.deepEqual(parseProcStat('cpu  1 2 3\nbtime 1795420957\nprocesses 17991\nprocs_running 2\n'), {
    btimeS: 1795420957,
    forks: 17991,
  });
  assert.deepEqual(parseStatusIds('Name:\tx\nUid:\t1000\t0\t0\t0\nGid:\t100\t100\t100\t100\n'), { uid: 1000, euid: 0, gid: 100 });
  assert.deepEqual(parseCmdline('sleep\u00001000\u0000a b\u0000'), ['sleep', '1000', 'a b']);
  assert.deepEqual(parseCmdline('single-string-title'), ['single-string-title']);
  assert.deepEqual(parseCmdline(''), []);
  const users = parsePasswd('root:x:0:0:root:/root:/bin/bash\n# comment\njim:x:1000:1000::/home/jim:/bin/sh\n');
  assert.equal(users.get(0), 'root');
  assert.equal(users.get(1000), 'jim');
});

test('/proc/net addresses: IPv4 words are byte-reversed on little-endian hosts', () => {
  assert.deepEqual(decodeSocketAddress('0100007F:1F90', true), { ip: '127.0.0.1', port: 8080, family: 'ipv4' });
  assert.deepEqual(decodeSocketAddress('0B02A8C0:0016', true), { ip: '192.168.2.11', port: 22, family: 'ipv4' });
  assert.deepEqual(decodeSocketAddress('7F000001:0050', false), { ip: '127.0.0.1', port: 80, family: 'ipv4' });
  assert.equal(decodeSocketAddress('XYZ:0050', true), undefined);
});

test('/proc/net addresses: IPv6 as four reversed 32-bit words, v4-mapped reported as IPv4', () => {
  assert.deepEqual(decodeSocketAddress('00000000000000000000000001000000:0016', true), { ip: '::1', port: 22, family: 'ipv6' });
  assert.deepEqual(decodeSocketAddress('B80D0120000000000000000001000000:01BB', true), {
    ip: '2001:db8::1',
    port: 443,
    family: 'ipv6',
  });
  assert.deepEqual(decodeSocketAddress('000080FE00000000FF005002FE3412AC:0035', true), {
    ip: 'fe80::250:ff:ac12:34fe',
    port: 53,
    family: 'ipv6',
  });
  assert.deepEqual(decodeSocketAddress('0000000000000000FFFF00000100007F:0050', true), {
    ip: '127.0.0.1',
    port: 80,
    family: 'ipv4',
  });
  assert.deepEqual(decodeSocketAddress('00000000000000000000000000000000:0000', true), { ip: '::', port: 0, family: 'ipv6' });
});

test('IPv6 text form follows RFC 5952', () => {
  const b = (...g: number[]) => new Uint8Array(g.flatMap((x) => [x >> 8, x & 0xff]));
  assert.equal(formatIPv6(b(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1)), '2001:db8::1:0:0:1');
  assert.equal(formatIPv6(b(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1)), '2001:db8:0:1:1:1:1:1');
  assert.equal(formatIPv6(b(1, 0, 0, 0, 0, 0, 0, 0)), '1::');
});

test('/proc/net/tcp table: states, uid and inode; TIME_WAIT (inode 0) skipped', () => {
  const text = [
    '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
    '   0: 0100007F:075B 00000000:0000 0A 00000000:00000000 00:00000000 00000000   105        0 4648 1 00000000fcfcd726 100 0 0 10 0',
    '   1: 0100007F:9C40 0100007F:075B 01 00000000:00000000 00:00000000 00000000  1000        0 9911 1 0000000000000000 20 4 30 10 -1',
    '   2: 0100007F:9C41 0100007F:075B 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000',
    '',
  ].join('\n');
  const socks = parseNetTable(text, 'tcp', true);
  assert.equal(socks.length, 2);
  assert.deepEqual(socks[1], {
    transport: 'tcp',
    family: 'ipv4',
    localIp: '127.0.0.1',
    localPort: 40000,
    remoteIp: '127.0.0.1',
    remotePort: 1883,
    state: 1,
    uid: 1000,
    inode: 9911,
  });
  assert.equal(socks[0].state, 0x0a);
});
