// Benchmark support for the agent benchmarks: an agent identity made directly (the agent starts enrolled,
// in a fresh work directory) and a stub ingest endpoint (mutual-TLS gRPC, the real AgentService) that
// decodes every agent message, acknowledges every batch and hands the message to the benchmark.

import * as grpc from '@grpc/grpc-js';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCsr, generateKeyPair, issueServerCertificate, loadOrCreateCa, privateKeyToPem, signAgentCsr } from '../../src/pki/pki.ts';
import { AGENT_SERVICE } from '../../src/schema/service.ts';
import { AgentMessageType, encodeServerMessage } from '../../src/schema/wire.ts';

export interface BenchAgentDirs {
  workDir: string;
  agentDir: string; // holds identity.json: the agent starts enrolled
  caFile: string;
  serverCredentials: grpc.ServerCredentials;
}

/** A work directory with an enrolled agent's identity and the CA that the stub endpoint's certificate chains to. */
export async function benchAgentDirs(prefix: string): Promise<BenchAgentDirs> {
  const workDir = mkdtempSync(join(tmpdir(), prefix));
  const agentDir = join(workDir, 'agent');
  mkdirSync(agentDir, { mode: 0o700 });
  mkdirSync(join(workDir, 'pki'));
  const ca = await loadOrCreateCa(join(workDir, 'pki'));
  const serverCert = await issueServerCertificate(ca, ['127.0.0.1']);
  const agentKeys = await generateKeyPair();
  const agentCert = await signAgentCsr(ca, await createCsr(agentKeys, 'bench'), 'agt-bench', 'default', 1);
  writeFileSync(join(agentDir, 'identity.json'), JSON.stringify({
    agentId: 'agt-bench', tenantId: 'default', certPem: agentCert.certPem, keyPem: await privateKeyToPem(agentKeys.privateKey), caPem: ca.certPem,
  }), { mode: 0o600 });
  const caFile = join(workDir, 'ca.pem');
  writeFileSync(caFile, ca.certPem);
  const serverCredentials = grpc.ServerCredentials.createSsl(Buffer.from(ca.certPem),
    [{ cert_chain: Buffer.from(serverCert.certPem), private_key: Buffer.from(serverCert.keyPem) }], true);
  return { workDir, agentDir, caFile, serverCredentials };
}

/** A decoded agent message as protobufjs reads it (longs as Long or number). */
export interface StubAgentMessage {
  batch?: { seq: number | { toNumber(): number }; events: { event?: { type?: string }; process?: { args?: string[] } }[] };
  heartbeat?: { sensor_drops?: number | { toNumber(): number } };
}

export interface StubIngest {
  port: number;
  /** The agent's current stream, to send it commands. */
  stream(): grpc.ServerDuplexStream<Buffer, Buffer> | undefined;
  close(): void;
}

/** Listens on 127.0.0.1; every batch is acknowledged as accepted after `onMessage` has seen it. */
export async function startStubIngest(credentials: grpc.ServerCredentials, onMessage: (m: StubAgentMessage) => void): Promise<StubIngest> {
  let current: grpc.ServerDuplexStream<Buffer, Buffer> | undefined;
  const server = new grpc.Server();
  server.addService(AGENT_SERVICE, {
    Enroll: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb({ code: grpc.status.UNIMPLEMENTED }),
    Stream: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      current = call;
      call.on('data', (bytes: Buffer) => {
        const m = AgentMessageType.decode(bytes) as unknown as StubAgentMessage;
        onMessage(m);
        if (m.batch) call.write(encodeServerMessage({ ack: { seq: Number(m.batch.seq), accepted: m.batch.events.length } }));
      });
      call.on('error', () => {});
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p))));
  return { port, stream: () => current, close: () => server.forceShutdown() };
}
