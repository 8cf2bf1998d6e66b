// At-least-once delivery of the real Agent (spool, send window, batches kept in memory or read back from
// the spool) against a gRPC endpoint over mutual TLS: one that acknowledges slower than the agent spools
// gets every batch once and in order; after a dropped stream the unacknowledged batches are sent again.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.ts';
import type { Sensor } from '../../src/agent/sensor.ts';
import { TestSensor } from '../support/test-sensor.ts';
import { createCsr, generateKeyPair, issueServerCertificate, loadOrCreateCa, privateKeyToPem, signAgentCsr } from '../../src/pki/pki.ts';
import { AGENT_SERVICE } from '../../src/schema/service.ts';
import { decodeAgentMessage, encodeServerMessage } from '../../src/schema/wire.ts';
import { eventually } from '../support/vigil-process.ts';

const BATCH = 10; // events per batch: hundreds of batches, more than the send window and those kept in memory

interface Received { stream: number; seq: number; arg: string }

/** A mutual-TLS endpoint that records batches and acknowledges them at once while `acking` (else they wait in `withheld`), and an agent enrolled to it. */
async function setUp(sensor: Sensor) {
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

  const ep = {
    received: [] as Received[],
    streams: [] as grpc.ServerDuplexStream<Buffer, Buffer>[],
    acking: false,
    withheld: [] as { call: grpc.ServerDuplexStream<Buffer, Buffer>; seq: number; count: number }[],
    ack(w: { call: grpc.ServerDuplexStream<Buffer, Buffer>; seq: number; count: number }) {
      w.call.write(encodeServerMessage({ ack: { seq: w.seq, accepted: w.count } }));
    },
    /** Distinct batch sequence numbers received on stream `n` (1-based), in arrival order. */
    seqs(n: number): number[] {
      return [...new Set(ep.received.filter((r) => r.stream === n).map((r) => r.seq))];
    },
  };
  const server = new grpc.Server();
  server.addService(AGENT_SERVICE, {
    Enroll: (_c: unknown, cb: grpc.sendUnaryData<Buffer>) => cb({ code: grpc.status.UNIMPLEMENTED }),
    Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const stream = ep.streams.push(call);
      call.on('data', (bytes: Buffer) => {
        const msg = decodeAgentMessage(bytes);
        if (msg.body !== 'batch') return;
        const batch = msg.batch as unknown as { seq: number; events: { process: { args: string[] } }[] };
        for (const e of batch.events) ep.received.push({ stream, seq: Number(batch.seq), arg: e.process.args[1] });
        const w = { call, seq: Number(batch.seq), count: batch.events.length };
        if (ep.acking) ep.ack(w);
        else ep.withheld.push(w);
      });
      call.on('error', () => {});
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0',
    grpc.ServerCredentials.createSsl(Buffer.from(ca.certPem), [{ cert_chain: Buffer.from(serverCert.certPem), private_key: Buffer.from(serverCert.keyPem) }], true),
    (err, p) => (err ? reject(err) : resolve(p))));
  const agent = new Agent({ dataDir: agentDir, server: `127.0.0.1:${port}`, caPem: ca.certPem, sensor, log: pino({ level: 'silent' }), batchEvents: BATCH });
  return {
    agent, ep,
    async tearDown() {
      await agent.stop();
      server.forceShutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('an endpoint slower than the agent: every batch arrives once, in order, on one stream, memory or spool', { timeout: 90_000 }, async () => {
  const sensor = new TestSensor(12_000, 100); // 1,200 batches, ≈ 1,000 a second
  const { agent, ep, tearDown } = await setUp(sensor);
  // Acknowledges one batch every 2 ms at most: batches pile up beyond what the agent keeps in memory.
  const pacer = setInterval(() => { const w = ep.withheld.shift(); if (w) ep.ack(w); }, 2);
  try {
    await agent.start();
    await eventually(async () => (sensor.emitted === 12_000 && agent.health().queue_depth === 0 ? true : undefined), 60_000, 'every batch acknowledged');
    assert.equal(ep.streams.length, 1, 'no reconnection was needed');
    const seqs = ep.seqs(1);
    assert.deepEqual(seqs, Array.from({ length: 1200 }, (_, i) => seqs[0] + i), 'every batch once, in sequence order');
    assert.equal(new Set(ep.received.map((r) => r.arg)).size, 12_000, 'every event');
    assert.equal(ep.received.length, 12_000, 'no event twice');
  } finally {
    clearInterval(pacer);
    await tearDown();
  }
});

test('a stream dropped with batches unacknowledged: they are sent again on the next one', { timeout: 60_000 }, async () => {
  const { agent, ep, tearDown } = await setUp(new TestSensor(4000, 4000));
  try {
    await agent.start();
    await eventually(async () => (agent.health().queue_depth >= 400 ? true : undefined), 20_000, 'every batch spooled');
    // Acknowledge half of the window, then drop the stream: the rest must come again on the next one.
    for (const w of ep.withheld.splice(0, 8)) ep.ack(w);
    await eventually(async () => (agent.health().queue_depth === 392 ? true : undefined), 10_000, 'the acks to arrive');
    ep.acking = true;
    ep.streams[0].write(encodeServerMessage({ command: { id: '', action: 'reconnect' } }));
    await eventually(async () => (agent.health().queue_depth === 0 ? true : undefined), 30_000, 'every batch acknowledged');
    assert.equal(ep.streams.length, 2, 'the agent reconnected');
    const [first, second] = [ep.seqs(1), ep.seqs(2)];
    assert.deepEqual(second, Array.from({ length: 392 }, (_, i) => first[8] + i), 'the unacknowledged batches, and only those, in order');
    assert.equal(new Set(ep.received.map((r) => r.arg)).size, 4000, 'every event');
  } finally {
    await tearDown();
  }
});
