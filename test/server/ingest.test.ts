// The ingest endpoint against a real embedded server (real gRPC over TLS, real chdb, real SQLite):
// enrolment refusals, certificate checks, per-event validation, malformed messages, duplicate deliveries.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { startEmbeddedServer, type RunningServer } from '../../src/server/embedded.ts';
import { SimulatedAgent } from '../../src/agent/simulator.ts';
import { enrollWithNewKey } from '../../src/agent/enrolment.ts';
import { loadOrCreateCa, generateKeyPair, createCsr, signAgentCsr, privateKeyToPem } from '../../src/pki/pki.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { heartbeatStreamOutcome } from '../support/agent-stream.ts';

const facts = { hostname: 'ingest-test', os: 'linux', kernel: 'test', agentVersion: 'test' };
let dir: string;
let server: RunningServer;
let apiKey: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-ingest-'));
  server = await startEmbeddedServer({ dataDir: dir, http: '127.0.0.1:0', grpc: '127.0.0.1:0', log: pino({ level: 'silent' }) });
  apiKey = readFileSync(server.adminKeyPath, 'utf8').trim();
});

after(async () => {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function api(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.httpUrl}${path}`, { ...init, headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json', ...init.headers } });
  return { status: res.status, body: await res.json() };
}

/** Waits until the pipeline has stored every acknowledged batch (acks come once batches are durable on the bus). */
async function stored(path: string): Promise<{ status: number; body: any }> {
  const until = Date.now() + 15_000;
  for (;;) {
    const metrics = await (await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${server.metricsToken}` } })).text();
    if (/^vigil_bus_backlog_messages 0$/m.test(metrics)) return api(path);
    if (Date.now() > until) throw new Error('the pipeline did not catch up');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function newAgent(name: string): Promise<SimulatedAgent> {
  const a = await SimulatedAgent.enroll(server.grpcAddress, server.caPem, await server.createEnrollmentToken(), name);
  a.connect();
  return a;
}


test('enrolment with an unknown token is refused', async () => {
  await assert.rejects(enrollWithNewKey(server.grpcAddress, server.caPem, 'vet_not-a-real-token', facts), /unknown enrolment token/);
});

test('enrolment with an expired token is refused', async () => {
  const token = await server.createEnrollmentToken(-1000);
  await assert.rejects(enrollWithNewKey(server.grpcAddress, server.caPem, token, facts), /enrolment token expired/);
});

test('a single-use token enrols once and is then used up', async () => {
  const token = await server.createEnrollmentToken();
  const id = await enrollWithNewKey(server.grpcAddress, server.caPem, token, facts);
  assert.match(id.agentId, /^agt-/);
  await assert.rejects(enrollWithNewKey(server.grpcAddress, server.caPem, token, facts), /used up/);
});

test('an enrolment token made through the API enrols an agent that the API then lists', async () => {
  const created = await api('/api/v1/enrollment-tokens', { method: 'POST', body: JSON.stringify({ ttl_seconds: 600, max_uses: 2 }) });
  assert.equal(created.status, 201);
  const id = await enrollWithNewKey(server.grpcAddress, server.caPem, created.body.token, { ...facts, hostname: 'via-api' });
  const host = await api(`/api/v1/hosts/${id.agentId}`);
  assert.equal(host.status, 200);
  assert.equal(host.body.hostname, 'via-api');
  const bad = await api('/api/v1/enrollment-tokens', { method: 'POST', body: JSON.stringify({ ttl_seconds: 1 }) });
  assert.equal(bad.status, 400);
});

test('a stream without a client certificate is refused', async () => {
  const outcome = await heartbeatStreamOutcome(server.grpcAddress, { caPem: server.caPem });
  assert.notEqual(outcome, 'open');
  assert.equal((outcome as grpc.ServiceError).code, grpc.status.UNAUTHENTICATED);
  assert.match((outcome as grpc.ServiceError).details, /no client certificate/);
});

test('a certificate from another CA is refused', async () => {
  const otherDir = mkdtempSync(join(tmpdir(), 'vigil-otherca-'));
  try {
    const other = await loadOrCreateCa(otherDir, 'Impostor CA');
    const keys = await generateKeyPair();
    const signed = await signAgentCsr(other, await createCsr(keys, 'impostor'), 'agt-impostor', 'default', 1);
    const outcome = await heartbeatStreamOutcome(server.grpcAddress, { caPem: server.caPem, certPem: signed.certPem, keyPem: await privateKeyToPem(keys.privateKey) });
    assert.notEqual(outcome, 'open', 'the stream of an impostor must not stay open');
  } finally {
    rmSync(otherDir, { recursive: true, force: true });
  }
});

test('a batch is acknowledged with per-event errors: bad events never take good ones down', async () => {
  const agent = await newAgent('mixed-batch');
  try {
    const events = agent.syntheticEvents(5);
    (events[2].event as { type: string }).type = 'no_such_type';
    const ack = await agent.send(events);
    assert.equal(ack.accepted, 4);
    assert.deepEqual(ack.errors.map((e) => e.index), [2]);
    assert.match(ack.errors[0].error, /event\.type/);
    const found = await stored(`/api/v1/events?host=${agent.identity.agentId}&limit=100`);
    assert.equal(found.body.events.length, 4);
    assert.ok(!found.body.events.some((e: any) => e.event.id === events[2].event.id));
  } finally {
    agent.close();
  }
});

test('a malformed message is refused precisely and the stream stays usable', async () => {
  const agent = await newAgent('malformed');
  try {
    agent.sendRaw(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]));
    const ack = await agent.send(agent.syntheticEvents(3));
    assert.equal(ack.accepted, 3);
    const metrics = await (await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${server.metricsToken}` } })).text();
    assert.match(metrics, /vigil_ingest_rejected_messages_total\{reason="malformed"\} [1-9]/);
  } finally {
    agent.close();
  }
});

test('the ingest thread runs at a higher CPU priority than the rest of the server where that is allowed', async () => {
  const metrics = await (await fetch(`${server.httpUrl}/metrics`, { headers: { authorization: `Bearer ${server.metricsToken}` } })).text();
  const nice = Number(/^vigil_ingest_thread_nice (-?\d+)$/m.exec(metrics)?.[1]);
  // As root (CI) the thread gets its -10; elsewhere it keeps the process's value and says so in the log.
  assert.equal(nice, process.getuid?.() === 0 ? -10 : 0);
});

test('duplicate deliveries of a batch are stored once', async () => {
  const agent = await newAgent('duplicates');
  try {
    const events = agent.syntheticEvents(50);
    await agent.send(events);
    await agent.send(events);
    await agent.send(events.slice(0, 10));
    const found = await stored(`/api/v1/events?host=${agent.identity.agentId}&limit=1000`);
    assert.equal(found.body.events.length, 50);
    assert.equal(new Set(found.body.events.map((e: any) => e.event.id)).size, 50);
  } finally {
    agent.close();
  }
});

test('events are attributed to the certificate identity, whatever the event says', async () => {
  const agent = await newAgent('spoofer');
  try {
    const events = agent.syntheticEvents(1);
    events[0].agent = { ...events[0].agent, id: 'agt-someone-else', tenant_id: 'other-tenant' };
    await agent.send(events);
    const found = await stored(`/api/v1/events?host=${agent.identity.agentId}`);
    assert.equal(found.body.events[0].agent.id, agent.identity.agentId);
    assert.equal(found.body.events[0].agent.tenant_id, 'default');
  } finally {
    agent.close();
  }
});

test('events are stored as sent but for the stamp (certificate identity, ingestion time); cut fields are stored cut and flagged', async () => {
  const agent = await newAgent('as-sent');
  try {
    const sent = agent.syntheticEvents(3);
    const long = agent.syntheticEvents(1, { executable: '/usr/bin/python3', args: ['python3', '-c', 'x'.repeat(40_000)] });
    await agent.send(sent);
    await agent.send(long);
    const found = await stored(`/api/v1/events?host=${agent.identity.agentId}&limit=100`);
    const byId = new Map(found.body.events.map((e: VigilEvent) => [e.event.id, e]));
    for (const e of sent) {
      const s = byId.get(e.event.id) as VigilEvent;
      assert.deepEqual(s, { ...e, agent: { ...e.agent, id: agent.identity.agentId, tenant_id: 'default' }, event: { ...e.event, ingested: s.event.ingested } });
      assert.ok(Date.parse(s.event.ingested!) >= Date.parse(e['@timestamp']));
    }
    const cut = byId.get(long[0].event.id) as VigilEvent;
    assert.equal(cut.process!.args![2].length, 32 * 1024);
    assert.equal(cut.process!.args_truncated, true);
    assert.deepEqual(cut.event.truncated, ['process.command_line', 'process.args']);
  } finally {
    agent.close();
  }
});
