// Test support: a tiny DNS responder on UDP (node:dgram) and DNS message building. It answers every A question
// with the address `answerFor(name)` (none: NXDOMAIN) and every other type with no answer (NOERROR, NODATA).

import { createSocket, type Socket } from 'node:dgram';

const TYPE_A = 1;

/** A DNS query for `name` (one question, recursion desired). */
export function dnsQuery(id: number, name: string, type = TYPE_A): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(id, 0);
  header.writeUInt16BE(0x0100, 2); // RD
  header.writeUInt16BE(1, 4);
  return Buffer.concat([header, encodeName(name), u16(type), u16(1)]);
}

/** The answer to `query`: its question, and an A record pointing at it (compressed name) when `ip` is given. */
export function dnsAnswer(query: Buffer, ip: string | undefined, ttl = 60): Buffer {
  const questionEnd = 12 + nameLength(query, 12) + 4;
  const type = query.readUInt16BE(questionEnd - 4);
  const header = Buffer.from(query.subarray(0, 12));
  const rcode = ip === undefined ? 3 : 0;
  header.writeUInt16BE(0x8180 | rcode, 2); // QR, RD, RA
  const answers = ip !== undefined && type === TYPE_A ? [Buffer.concat([u16(0xc00c), u16(TYPE_A), u16(1), u32(ttl), u16(4), Buffer.from(ip.split('.').map(Number))])] : [];
  header.writeUInt16BE(answers.length, 6);
  header.writeUInt16BE(0, 8);
  header.writeUInt16BE(0, 10);
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}

export interface DnsResponder { address: string; port: number; questions: string[]; close(): Promise<void> }

/** Listens on `address`:`port` (UDP) and answers as dnsAnswer does. */
export async function startDnsResponder(address: string, port: number, answerFor: (name: string) => string | undefined): Promise<DnsResponder> {
  const socket: Socket = createSocket('udp4');
  const questions: string[] = [];
  socket.on('message', (msg, from) => {
    if (msg.length < 12) return;
    const name = decodeName(msg, 12);
    questions.push(name);
    socket.send(dnsAnswer(msg, answerFor(name)), from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => { socket.once('error', reject); socket.bind(port, address, () => resolve()); });
  return { address, port: socket.address().port, questions, close: () => new Promise((r) => socket.close(() => r())) };
}

function encodeName(name: string): Buffer {
  return Buffer.concat([...name.split('.').filter(Boolean).map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0])]);
}

function nameLength(m: Buffer, at: number): number {
  let n = 0;
  while (m[at + n] !== 0) n += m[at + n] + 1;
  return n + 1;
}

function decodeName(m: Buffer, at: number): string {
  const labels: string[] = [];
  for (let i = at; m[i] !== 0 && i < m.length; i += m[i] + 1) labels.push(m.toString('latin1', i + 1, i + 1 + m[i]));
  return labels.join('.');
}

const u16 = (n: number) => { const b = Buffer.alloc(2); b.writeUInt16BE(n); return b; };
const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; };
