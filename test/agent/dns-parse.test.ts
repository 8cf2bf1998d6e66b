// The DNS wire-format parser of the agent (src/agent/sensors/ebpf/dns.ts): queries, answers with compressed
// names, CNAME chains, AAAA, NXDOMAIN, the TCP length prefix, and hostile input (pointer loops, names past the
// end, truncation at every byte, random bytes): never throws, reads what is there.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDnsMessage } from '../../src/agent/sensors/ebpf/dns.ts';
import { dnsAnswer, dnsQuery } from '../support/dns-responder.ts';

test('a query and its answer', () => {
  const q = dnsQuery(0x1234, 'www.example.com');
  assert.deepEqual(parseDnsMessage(q), { type: 'query', id: '4660', header_flags: ['RD'], question: { name: 'www.example.com', type: 'A' } });
  assert.deepEqual(parseDnsMessage(dnsAnswer(q, '192.0.2.7', 300)), {
    type: 'answer', id: '4660', header_flags: ['RD', 'RA'], response_code: 'NOERROR', question: { name: 'www.example.com', type: 'A' },
    answers: [{ name: 'www.example.com', type: 'A', ttl: 300, data: '192.0.2.7' }], resolved_ip: ['192.0.2.7'],
  });
  assert.deepEqual(parseDnsMessage(dnsAnswer(q, undefined)), {
    type: 'answer', id: '4660', header_flags: ['RD', 'RA'], response_code: 'NXDOMAIN', question: { name: 'www.example.com', type: 'A' },
  });
  assert.deepEqual(parseDnsMessage(dnsAnswer(dnsQuery(1, 'a.b', 28), '192.0.2.1'))?.question, { name: 'a.b', type: 'AAAA' });
});

test('CNAME chains and AAAA; the TCP length prefix', () => {
  const q = dnsQuery(7, 'web.example.org');
  const header = Buffer.from(dnsAnswer(q, '192.0.2.1').subarray(0, 12));
  header.writeUInt16BE(3, 6);
  const question = q.subarray(12);
  const cnameTarget = Buffer.from([4, ...Buffer.from('edge'), 3, ...Buffer.from('cdn'), 3, ...Buffer.from('net'), 0]);
  const rr = (type: number, ttl: number, data: Buffer, name = Buffer.from([0xc0, 0x0c])) => {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(type, 0); fixed.writeUInt16BE(1, 2); fixed.writeUInt32BE(ttl, 4); fixed.writeUInt16BE(data.length, 8);
    return Buffer.concat([name, fixed, data]);
  };
  const targetAt = 12 + question.length + 12; // the CNAME's data starts after its name (2) and fixed part (10)
  const ptr = Buffer.from([0xc0 | (targetAt >> 8), targetAt & 0xff]);
  const v6 = Buffer.from('20010db8000000000000000000000001', 'hex');
  const m = Buffer.concat([header, question, rr(5, 10, cnameTarget), rr(1, 20, Buffer.from([203, 0, 113, 5]), ptr), rr(28, 30, v6, ptr)]);
  const parsed = parseDnsMessage(m)!;
  assert.deepEqual(parsed.answers, [
    { name: 'web.example.org', type: 'CNAME', ttl: 10, data: 'edge.cdn.net' },
    { name: 'edge.cdn.net', type: 'A', ttl: 20, data: '203.0.113.5' },
    { name: 'edge.cdn.net', type: 'AAAA', ttl: 30, data: '2001:db8::1' },
  ]);
  assert.deepEqual(parsed.resolved_ip, ['203.0.113.5', '2001:db8::1']);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(m.length);
  assert.deepEqual(parseDnsMessage(Buffer.concat([len, m]), true), parsed);
});

test('hostile input: pointer loops, overlong names, every truncation and random bytes never throw', () => {
  const loop = Buffer.concat([dnsQuery(1, 'x').subarray(0, 12), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]);
  assert.equal(parseDnsMessage(loop), undefined);
  const long = Buffer.concat([dnsQuery(1, 'x').subarray(0, 12), ...Array.from({ length: 10 }, () => Buffer.from([63, ...Buffer.alloc(63, 97)])), Buffer.from([0, 0, 1, 0, 1])]);
  assert.equal(parseDnsMessage(long), undefined, 'a name longer than 255 bytes');
  const escaped = parseDnsMessage(dnsQuery(1, 'a\u0001b.c'));
  assert.equal(escaped?.question?.name, 'a\\001b.c');
  const full = dnsAnswer(dnsQuery(9, 'truncate.example'), '192.0.2.9');
  for (let n = 0; n <= full.length; n++) {
    const r = parseDnsMessage(full.subarray(0, n));
    if (n < 12) assert.equal(r, undefined);
    if (n === full.length) assert.deepEqual(r?.resolved_ip, ['192.0.2.9']);
  }
  let seed = 7;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) & 0xff);
  for (let i = 0; i < 2000; i++) parseDnsMessage(Buffer.from(Array.from({ length: 12 + (i % 200) }, random)), i % 2 === 0);
});
