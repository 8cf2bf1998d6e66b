// The embedded server's ingest thread, seen from the main thread: starts ingest-thread-entry.ts in a
// worker thread (gRPC ingest + the durable bus log), answers its metadata calls, mirrors its open agent
// streams as channels (sending down a channel posts to the thread), relays its agent hooks, and gives the
// pipeline the bus log as a WorkerLogBus. The thread's Prometheus metrics are read with metricsJson().

import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { threadReady, WorkerLogBus } from '../bus/worker-log.ts';
import type { AgentIdentity, KeyPairPem } from '../pki/pki.ts';
import type { VigilEvent } from '../schema/event.ts';
import type { ArtifactChunk, CommandResult, DatasetRequest, PolicyAck, ServerMessage } from '../schema/wire.ts';
import { ThreadRpc } from '../util/thread-rpc.ts';
import type { AgentChannel, IngestMetadata, IngestOptions } from './ingest.ts';
import { eventBatchCodec } from './ingest-batch.ts';

/** What the thread is started with (cloneable). */
export interface IngestThreadInit {
  busDir: string;
  /** The bus log's sync interval (LocalLogBusOptions.syncIntervalMs): 0 syncs before every ack. */
  busSyncMs: number;
  pkiDir: string;
  serverCert: KeyPairPem;
  logLevel: string;
}

export interface IngestThreadOptions extends Omit<IngestThreadInit, 'logLevel'>,
  Pick<IngestOptions, 'onAgentConnected' | 'onCommandResult' | 'onArtifactChunk' | 'onPolicyAck' | 'onDatasetRequest'> {
  metadata: IngestMetadata;
  log: Logger;
}

export interface IngestThread {
  /** The durable log ingest appends to; the pipeline consumes it. */
  bus: WorkerLogBus<VigilEvent[]>;
  /** The agents' open streams. */
  channels: ReadonlyMap<string, AgentChannel>;
  /** Listens on host:port (port 0 picks one); returns the bound port. */
  listen(address: string): Promise<number>;
  /** Cuts the agent's open stream, if any, with UNAUTHENTICATED; true when one was open. */
  disconnect(agentId: string, details: string): boolean;
  /** Asks the agents to reconnect later and stops taking streams (the bus stays open). */
  closeIngest(): Promise<void>;
  metricsJson(): Promise<MetricObjectWithValues<MetricValue<string>>[]>;
  /** Ends the thread (after the bus is closed). */
  terminate(): Promise<void>;
}

/** An ArtifactChunk's bytes arrive as a Uint8Array: hand them on as a Buffer, as ingest does. */
const asBuffer = (c: ArtifactChunk): ArtifactChunk => ({ ...c, data: Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength) });

const INGEST_INITIAL_OLD_SPACE_MB = 64;

export async function startIngestThread(o: IngestThreadOptions): Promise<IngestThread> {
  const init: IngestThreadInit = { busDir: o.busDir, busSyncMs: o.busSyncMs, pkiDir: o.pkiDir, serverCert: o.serverCert, logLevel: o.log.level };
  // With V8's default initial old generation this thread's small heap (≈ 17 MB live, limit ≈ 41 MB) got a
  // full collection every ≈ 0.9 s (`--trace-incremental-marking`: started by a task, far below the limit),
  // each pausing it 3–15 ms: in an ack's p99. With 64 MB: 0–3 in 15 s (docs/deployment.md). The flag is
  // read when an isolate is created, so it applies to this thread's and not to the main thread's.
  setFlagsFromString(`--initial-old-space-size=${INGEST_INITIAL_OLD_SPACE_MB}`);
  const worker = new Worker(new URL('./ingest-thread-entry.ts', import.meta.url), { workerData: init });
  const rpc = new ThreadRpc(worker);
  rpc.onNotifyError((err) => o.log.error({ err }, 'ingest thread notification failed'));
  let ending = false;
  worker.on('error', (err) => o.log.fatal({ err }, 'ingest thread failed'));
  worker.on('exit', (code) => { if (!ending) o.log.fatal({ code }, 'ingest thread exited: agents cannot deliver events'); });
  for (const method of ['consumeEnrollmentToken', 'upsertHost', 'getAgent', 'recordHeartbeat'] as const) {
    rpc.handle(`metadata.${method}`, (...args: unknown[]) => (o.metadata[method] as (...a: unknown[]) => unknown)(...args));
  }
  const channels = new Map<string, AgentChannel>();
  rpc.handle('agent.connected', (identity: AgentIdentity) => {
    channels.set(identity.agentId, {
      identity,
      send: (msg: ServerMessage) => rpc.notify('ingest.send', identity.agentId, msg),
      refuse: (details: string) => rpc.notify('ingest.refuse', identity.agentId, details),
    });
    o.onAgentConnected?.(identity);
  });
  rpc.handle('agent.disconnected', (agentId: string) => { channels.delete(agentId); });
  rpc.handle('agent.commandResult', (a: AgentIdentity, r: CommandResult) => o.onCommandResult?.(a, r));
  rpc.handle('agent.artifactChunk', (a: AgentIdentity, c: ArtifactChunk) => o.onArtifactChunk?.(a, asBuffer(c)));
  rpc.handle('agent.policyAck', (a: AgentIdentity, ack: PolicyAck) => o.onPolicyAck?.(a, ack));
  rpc.handle('agent.datasetRequest', (a: AgentIdentity, req: DatasetRequest) => o.onDatasetRequest?.(a, req));
  await threadReady(worker, rpc);
  return {
    bus: new WorkerLogBus(rpc, eventBatchCodec),
    channels,
    listen: (address) => rpc.call('ingest.listen', address),
    disconnect(agentId, details) {
      const c = channels.get(agentId);
      c?.refuse(details);
      return c !== undefined;
    },
    closeIngest: () => rpc.call('ingest.close'),
    metricsJson: () => rpc.call('metrics'),
    async terminate() {
      ending = true;
      await worker.terminate();
    },
  };
}
