// At-least-once delivery of the real Agent (spool, send window, batches kept in memory or read back from
// the spool) against a gRPC endpoint over mutual TLS that withholds its acknowledgements, then drops the
// stream: every event arrives, batches arrive in order, and unacknowledged ones are re-sent.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.ts';
import type { Observation, Sensor, SensorHealth } from '../../src/agent/sensor.ts';
import { createCsr, generateKeyPair, issueServerCertificate, loadOrCreateCa, privateKeyToPem, signAgentCsr } from '../../src/pki/pki.ts';
import { AGENT_SERVICE } from '../../src/schema/service.ts';
import { decodeAgentMessage, encodeServerMessage } from '../../src/schema/wire.ts';
import { eventually } from '../support/vigil-process.ts';

const EVENTS = 4000;
const BATCH = 10; // 400 batches: more than the send window and the batches kept in memory

/** Emits EVENTS process starts at once when started. */
class BurstSensor implements Sensor {
  readonly mode = 'proc' as const;
  async start(emit: (o: Observation) => void): Promise<void> {
    for (let i = 0; i < EVENTS; i++) emit({ type: 'process_start', timeMs: Date.now(), pid: 100_000 + i, ppid: 1, startTimeMs: 1_700_000_000_000 + i, args: ['true', `n${i}`] });
  }
  async stop(): Promise<void> {}
  health(): SensorHealth {
    return { mode: 'proc', drops: 0, restarts: 0 };
  }
}

interface Received { stream: number; seq: number; args: string[] }

test('batches withheld by the server, then a dropped stream: every event arrives, in order on each stream', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-delivery-'));
  mkdirSync(join(dir, 'pki'));
  const ca = await loadOrCreateCa(join(dir, 'pki'));
  const serverCert = await issueServerCertificate(ca, ['127.0.0.1']);
  const keys = await generateKeyPair();
  const cert = await signAgentCsr(ca, await createCsr(keys, 'test'), 'agt-delivery', 'default', 1);
  const agentDir = join(dir, 'agent');
  mkdirSync(agentDir, { mode: 0o700 });
  // Enrolled beforehand: the identity the agent would have written at enrolment.
  writeFileSync(join(agentDir, 'identity.json'), JSON.stringify({ agentId: 'agt-delivery', tenantId: 'default', certPem: cert.certPem, keyPem: await privateKeyToPem(keys.privateKey), caPem: ca.certPem }));

  const received: Received[] = [];
  const streams: grpc.ServerDuplexStream<Buffer, Buffer>[] = [];
  let acking = false;
  const withheld: { call: grpc.ServerDuplexStream<Buffer, Buffer>; seq: number; count: number }[] = [];
  const server = new grpc.Server();
  server.addService(AGENT_SERVICE, {
    Enroll: (_c: unknown, cb: grpc.sendUnaryData<Buffer>) => cb({ code: grpc.status.UNIMPLEMENTED }),
    Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const stream = streams.push(call);
      call.on('data', (bytes: Buffer) => {
        const msg = decodeAgentMessage(bytes);
        if (msg.body !== 'batch') return;
        const batch = msg.batch as unknown as { seq: number; events: { process: { args: string[] } }[] };
        for (const e of batch.events) received.push({ stream, seq: Number(batch.seq), args: e.process.args });
        const ack = { call, seq: Number(batch.seq), count: batch.events.length };
        if (acking) call.write(encodeServerMessage({ ack: { seq: ack.seq, accepted: ack.count } }));
        else withheld.push(ack);
      });
      call.on('error', () => {});
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0',
    grpc.ServerCredentials.createSsl(Buffer.from(ca.certPem), [{ cert_chain: Buffer.from(serverCert.certPem), private_key: Buffer.from(serverCert.keyPem) }], true),
    (err, p) => (err ? reject(err) : resolve(p))));
  const agent = new Agent({
    dataDir: agentDir, server: `127.0.0.1:${port}`, caPem: ca.certPem, sensor: new BurstSensor(), log: pino({ level: 'silent' }), batchEvents: BATCH,
  });

  try {
    await agent.start();
    // The server holds every ack: the agent sends its window, the rest waits in memory and in the spool.
    await eventually(async () => (agent.health().queue_depth >= EVENTS / BATCH ? true : undefined), 20_000, 'every batch spooled');
    await new Promise((r) => setTimeout(r, 300));
    const sentBeforeAcks = new Set(received.map((r) => r.seq)).size;
    assert.ok(sentBeforeAcks > 0 && sentBeforeAcks < EVENTS / BATCH, `only the send window goes out unacknowledged (${sentBeforeAcks} batches)`);

    // Acknowledge half of what arrived, then drop the stream: the rest must come again on the next one.
    for (const w of withheld.splice(0, Math.floor(withheld.length / 2))) w.call.write(encodeServerMessage({ ack: { seq: w.seq, accepted: w.count } }));
    await new Promise((r) => setTimeout(r, 200));
    acking = true;
    streams[0].write(encodeServerMessage({ command: { id: '', action: 'reconnect' } }));

    await eventually(async () => (agent.health().queue_depth === 0 ? true : undefined), 30_000, 'every batch acknowledged');
    const args = new Set(received.map((r) => r.args[1]));
    assert.equal(args.size, EVENTS, 'every event arrived at least once');
    assert.ok(streams.length >= 2, 'the agent reconnected');
    for (let s = 1; s <= streams.length; s++) {
      const seqs = [...new Set(received.filter((r) => r.stream === s).map((r) => r.seq))];
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), `batches in sequence order on stream ${s}`);
    }
    const lastStream = [...new Set(received.filter((r) => r.stream === streams.length).map((r) => r.seq))];
    assert.ok(lastStream.length > EVENTS / BATCH / 2 - 16, 'the unacknowledged batches were sent again');
  } finally {
    await agent.stop();
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  }
});
