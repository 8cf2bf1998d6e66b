// Ingest when the metadata store fails (real gRPC over mutual TLS, real SQLite behind a store that fails on
// demand): the agent gets UNAVAILABLE and retries, the failure is counted, the server keeps serving.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { enrollWithNewKey, type EnrolledIdentity } from '../../src/agent/enrolment.ts';
import { InProcessBus } from '../../src/bus/in-process.ts';
import { issueServerCertificate, loadOrCreateCa } from '../../src/pki/pki.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { issueEnrollmentToken } from '../../src/stores/metadata/enrollment-tokens.ts';
import { IngestServer, type IngestMetadata } from '../../src/server/ingest.ts';
import { publishingBatches } from '../../src/server/ingest-batch.ts';
import { registry } from '../../src/server/metrics.ts';
import { SqliteMetadataStore } from '../../src/stores/metadata/sqlite.ts';
import { heartbeatStreamOutcome } from '../support/agent-stream.ts';

const facts = { hostname: 'faults', os: 'linux', kernel: 'test', agentVersion: 'test' };
let dir: string;
let store: SqliteMetadataStore;
let ingest: IngestServer;
let address: string;
let caPem: string;
/** Methods of the store that fail (once each) on their next call. */
const failNext = new Set<keyof IngestMetadata>();

function failing<K extends keyof IngestMetadata>(method: K): IngestMetadata[K] {
  return (async (...args: unknown[]) => {
    if (failNext.delete(method)) throw new Error(`${method}: database is locked`);
    return (store[method] as (...a: unknown[]) => unknown).apply(store, args);
  }) as IngestMetadata[K];
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-ingest-faults-'));
  store = new SqliteMetadataStore(join(dir, 'metadata.db'));
  await store.migrate();
  await store.ensureTenant('default', 'Default');
  const ca = await loadOrCreateCa(dir);
  caPem = ca.certPem;
  const metadata: IngestMetadata = {
    consumeEnrollmentToken: failing('consumeEnrollmentToken'), upsertHost: failing('upsertHost'),
    getAgent: failing('getAgent'), recordHeartbeat: failing('recordHeartbeat'),
  };
  ingest = new IngestServer({ ca, serverCert: await issueServerCertificate(ca, ['127.0.0.1']), metadata, bus: publishingBatches(new InProcessBus<Uint8Array>(16)), log: pino({ level: 'silent' }) });
  address = `127.0.0.1:${await ingest.listen('127.0.0.1:0')}`;
});

after(async () => {
  ingest.forceClose();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

const token = async () => (await issueEnrollmentToken(store, 'default', 60_000, 1)).token;

async function serverErrors(): Promise<number> {
  const m = (await registry.getSingleMetric('vigil_ingest_rejected_messages_total')!.get()).values.find((v) => v.labels.reason === 'server_error');
  return m?.value ?? 0;
}

/** Opens a stream as `id`, sends a heartbeat, and resolves with how the server ended it (or 'open'). */
const heartbeatOutcome = (id: EnrolledIdentity) => heartbeatStreamOutcome(address, { caPem, certPem: id.certPem, keyPem: id.keyPem }, 2000);

test('a failing metadata store fails the enrolment (retry later); the token is kept and the retry enrols', async () => {
  const t = await token();
  failNext.add('consumeEnrollmentToken');
  await assert.rejects(enrollWithNewKey(address, caPem, t, facts), /enrolment failed on the server; retry later/);
  const id = await enrollWithNewKey(address, caPem, t, facts);
  assert.match(id.agentId, /^agt-/);
});

test('a failing heartbeat write or agent lookup ends the stream with UNAVAILABLE and is counted; the next stream works', async () => {
  const id = await enrollWithNewKey(address, caPem, await token(), facts);
  const before = await serverErrors();
  failNext.add('recordHeartbeat');
  const heartbeat = await heartbeatOutcome(id);
  assert.ok(heartbeat !== 'open' && heartbeat.code === grpc.status.UNAVAILABLE, `heartbeat write failure: ${String(heartbeat)}`);
  failNext.add('getAgent');
  const lookup = await heartbeatOutcome(id);
  assert.ok(lookup !== 'open' && lookup.code === grpc.status.UNAVAILABLE, `agent lookup failure: ${String(lookup)}`);
  assert.equal(await serverErrors(), before + 2);
  assert.equal(await heartbeatOutcome(id), 'open');
  assert.equal((await store.getAgent(id.agentId))?.health?.version, 'x', 'the heartbeat of the healthy stream is recorded');
});
