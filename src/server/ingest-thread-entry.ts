// Worker-thread entry of the embedded server's ingest thread (ingest-thread.ts): the agents' gRPC endpoint
// and the durable bus log it appends to, in a thread of their own, so that an agent's batch is
// acknowledged as soon as it is fsynced, however busy the pipeline, detection and API are in the main
// thread. Metadata calls, agent hooks and the pipeline's consumer go to the main thread. The thread asks
// for a higher CPU priority than the rest of the process (role-priority.ts) where it is allowed to.

import { parentPort, workerData } from 'node:worker_threads';
import { pino } from 'pino';
import { bytesCodec } from '../bus/codec.ts';
import { LocalLogBus } from '../bus/local-log.ts';
import { serveLogBus } from '../bus/worker-log.ts';
import { loadOrCreateCa } from '../pki/pki.ts';
import type { ServerMessage } from '../schema/wire.ts';
import { ThreadRpc } from '../util/thread-rpc.ts';
import { IngestServer, type IngestMetadata } from './ingest.ts';
import { publishingBatches } from './ingest-batch.ts';
import { prioritiseIngestThread } from './role-priority.ts';
import { busLogCommitSeconds, busLogSyncIntervalMs, registry, reportBusBacklog, reportIngestLoopDelay } from './metrics.ts';
import type { IngestThreadInit } from './ingest-thread.ts';

const init = workerData as IngestThreadInit;
const log = pino({ name: 'vigil', level: init.logLevel }).child({ thread: 'ingest' });

prioritiseIngestThread(log, registry);

// The pipeline's queue stays in memory up to 128 MiB: a queue read back from the log costs this thread
// synchronous segment reads, which would delay acknowledgements.
const bus = await LocalLogBus.open(init.busDir, {
  codec: bytesCodec(), syncIntervalMs: init.busSyncMs, maxQueued: 65_536, maxQueuedBytes: 128 * 2 ** 20, onCommit: (s) => busLogCommitSeconds.observe(s), onHandlerError: (err, attempt) => log.error({ err, attempt }, 'pipeline batch failed; retrying'),
});
reportBusBacklog(() => bus.backlog);
busLogSyncIntervalMs.set(init.busSyncMs);
const ca = await loadOrCreateCa(init.pkiDir);
const rpc = new ThreadRpc(parentPort!);
rpc.onNotifyError((err) => log.error({ err }, 'ingest thread request failed'));
serveLogBus(rpc, bus);

const metadataCall = <K extends keyof IngestMetadata>(method: K) =>
  ((...args: unknown[]) => rpc.call(`metadata.${method}`, ...args)) as IngestMetadata[K];
const metadata: IngestMetadata = {
  consumeEnrollmentToken: metadataCall('consumeEnrollmentToken'), upsertHost: metadataCall('upsertHost'),
  getAgent: metadataCall('getAgent'), recordHeartbeat: metadataCall('recordHeartbeat'),
};
const ingest = new IngestServer({
  ca, serverCert: init.serverCert, metadata, log,
  bus: publishingBatches(bus),
  onAgentConnected: (a) => rpc.notify('agent.connected', a),
  onAgentDisconnected: (agentId) => rpc.notify('agent.disconnected', agentId),
  onCommandResult: (a, r) => rpc.notify('agent.commandResult', a, r),
  onArtifactChunk: (a, c) => rpc.notify('agent.artifactChunk', a, c),
  onPolicyAck: (a, ack) => rpc.notify('agent.policyAck', a, ack),
  onDatasetRequest: (a, req) => rpc.notify('agent.datasetRequest', a, req),
});
rpc.handle('ingest.listen', (address: string) => ingest.listen(address));
rpc.handle('ingest.send', (agentId: string, msg: ServerMessage) => { ingest.channels.get(agentId)?.send(msg); });
rpc.handle('ingest.refuse', (agentId: string, details: string) => { ingest.disconnect(agentId, details); });
rpc.handle('ingest.close', () => ingest.close());
rpc.handle('metrics', () => registry.getMetricsAsJSON());

reportIngestLoopDelay();
rpc.notify('ready');
