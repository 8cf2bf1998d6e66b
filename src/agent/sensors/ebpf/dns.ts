// DNS wire format (RFC 1035, 3596), agent side: a query or answer the sensor copied from a process's socket,
// parsed into ECS dns.* fields. Bounded and safe on any input: the header, the first question and at most
// MAX_ANSWERS answers are read, names follow at most MAX_JUMPS compression pointers and hold at most 255 bytes,
// every read is checked against the end; a message cut short (the sensor keeps its first 2 KiB) yields what
// was read. A TCP message's 2-byte length prefix is skipped. Pure.

import type { DnsFields } from '../../../schema/event.ts';
import { ipString } from './frames.ts';

const HEADER = 12;
const MAX_ANSWERS = 32;
const MAX_JUMPS = 16;
const MAX_NAME = 255;

const TYPES: Record<number, string> = {
  1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 35: 'NAPTR',
  41: 'OPT', 43: 'DS', 46: 'RRSIG', 48: 'DNSKEY', 64: 'SVCB', 65: 'HTTPS', 99: 'SPF', 252: 'AXFR', 255: 'ANY', 257: 'CAA',
};
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED', 'YXDOMAIN', 'YXRRSET', 'NXRRSET', 'NOTAUTH', 'NOTZONE'];
const FLAGS: [number, string][] = [[0x400, 'AA'], [0x200, 'TC'], [0x100, 'RD'], [0x80, 'RA'], [0x20, 'AD'], [0x10, 'CD']];

class Cut extends Error {}

const typeName = (t: number): string => TYPES[t] ?? `TYPE${t}`;

/** A domain name at `at` (compression followed): the name and where the field ends. */
function readName(m: Buffer, at: number): { name: string; end: number } {
  const labels: string[] = [];
  let length = 0;
  let end = -1;
  for (let jumps = 0; ;) {
    if (at >= m.length) throw new Cut();
    const len = m[at];
    if (len === 0) {
      if (end < 0) end = at + 1;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (at + 1 >= m.length) throw new Cut();
      if (end < 0) end = at + 2;
      if (++jumps > MAX_JUMPS) throw new Cut();
      at = ((len & 0x3f) << 8) | m[at + 1];
      continue;
    }
    if ((len & 0xc0) !== 0 || at + 1 + len > m.length) throw new Cut();
    length += len + 1;
    if (length > MAX_NAME) throw new Cut();
    labels.push(label(m, at + 1, at + 1 + len));
    at += 1 + len;
  }
  return { name: labels.join('.'), end };
}

/** A label as text: printable ASCII as is (dots and backslashes escaped), other bytes as \DDD (RFC 4343). */
function label(m: Buffer, from: number, to: number): string {
  let out = '';
  for (let i = from; i < to; i++) {
    const c = m[i];
    if (c === 0x2e || c === 0x5c) out += `\\${String.fromCharCode(c)}`;
    else if (c > 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += `\\${String(c).padStart(3, '0')}`;
  }
  return out;
}

/** An answer's data as text: addresses, names, MX and SRV targets, TXT's first string; other types none. */
function rdata(m: Buffer, type: number, at: number, len: number): string | undefined {
  if (type === 1 && len === 4) return ipString(m, at, 4);
  if (type === 28 && len === 16) return ipString(m, at, 6);
  if (type === 5 || type === 2 || type === 12) return readName(m, at).name;
  if (type === 15 && len > 2) return readName(m, at + 2).name;
  if (type === 33 && len > 6) return readName(m, at + 6).name;
  if (type === 16 && len > 0) return label(m, at + 1, at + 1 + Math.min(m[at], len - 1));
  return undefined;
}

/**
 * The ECS dns fields of one message (`tcp`: with its 2-byte length prefix when it has one); undefined when not
 * even the header and question can be read.
 */
export function parseDnsMessage(payload: Buffer, tcp = false): DnsFields | undefined {
  let m = payload;
  if (tcp && m.length >= 2 && m.readUInt16BE(0) === m.length - 2) m = m.subarray(2);
  if (m.length < HEADER) return undefined;
  const flags = m.readUInt16BE(2);
  const answer = (flags & 0x8000) !== 0;
  const out: DnsFields = { type: answer ? 'answer' : 'query', id: String(m.readUInt16BE(0)) };
  const headerFlags = FLAGS.filter(([bit]) => flags & bit).map(([, name]) => name);
  if (headerFlags.length) out.header_flags = headerFlags;
  if (answer) out.response_code = RCODES[flags & 0xf] ?? `RCODE${flags & 0xf}`;
  let at = HEADER;
  try {
    if (m.readUInt16BE(4) > 0) {
      const q = readName(m, at);
      if (q.end + 4 > m.length) throw new Cut();
      out.question = { name: q.name, type: typeName(m.readUInt16BE(q.end)) };
      at = q.end + 4;
      for (let n = m.readUInt16BE(4) - 1; n > 0; n--) at = readName(m, at).end + 4; // further questions: skipped
    }
  } catch (err) {
    if (!(err instanceof Cut || err instanceof RangeError)) throw err;
    return out.question ? out : undefined;
  }
  if (answer) addAnswers(m, at, Math.min(m.readUInt16BE(6), MAX_ANSWERS), out);
  return out;
}

function addAnswers(m: Buffer, at: number, count: number, out: DnsFields): void {
  const answers: NonNullable<DnsFields['answers']> = [];
  const ips: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const { name, end } = readName(m, at);
      if (end + 10 > m.length) break;
      const type = m.readUInt16BE(end);
      const ttl = m.readUInt32BE(end + 4);
      const len = m.readUInt16BE(end + 8);
      const dataAt = end + 10;
      if (dataAt + len > m.length) break;
      const data = rdata(m, type, dataAt, len);
      answers.push(data === undefined ? { name, type: typeName(type), ttl } : { name, type: typeName(type), ttl, data });
      if ((type === 1 || type === 28) && data !== undefined) ips.push(data);
      at = dataAt + len;
    }
  } catch (err) {
    if (!(err instanceof Cut || err instanceof RangeError)) throw err;
  }
  if (answers.length) out.answers = answers;
  if (ips.length) out.resolved_ip = ips;
}
