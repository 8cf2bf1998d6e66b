// Wiring of response actions into a server process: the SQLite command store at <data-dir>/response.db,
// artefacts under <data-dir>/artifacts/, the audit ledger (the given sink, or the one at <data-dir>/ledger.db),
// the dispatcher, and the hooks the ingest server calls (results, artefact chunks, reconnects).

import { join } from 'node:path';
import type { Logger } from 'pino';
import type { AuditSink } from '../ledger/sink.ts';
import type { AgentIdentity } from '../pki/pki.ts';
import type { ArtifactChunk, CommandResult } from '../schema/wire.ts';
import { openLedger } from '../stores/ledger/open.ts';
import { ArtifactStorage } from './artifacts.ts';
import { ResponseDispatcher, type AgentSender, type ResponseConfig } from './dispatcher.ts';
import { openSqliteCommandStore } from './store.ts';

export interface ResponseServiceOptions {
  dataDir: string;
  log: Logger;
  send: AgentSender;
  audit?: AuditSink;
  config?: ResponseConfig;
}

/** What the ingest server calls; spread into its options. */
export interface ResponseIngestHooks {
  onCommandResult(agent: AgentIdentity, r: CommandResult): void;
  onArtifactChunk(agent: AgentIdentity, c: ArtifactChunk): void;
  onAgentConnected(agent: AgentIdentity): void;
}

export interface ResponseService {
  dispatcher: ResponseDispatcher;
  ingestHooks: ResponseIngestHooks;
  close(): Promise<void>;
}

export async function openResponseService(o: ResponseServiceOptions): Promise<ResponseService> {
  const store = openSqliteCommandStore(join(o.dataDir, 'response.db'));
  await store.migrate();
  const ledger = o.audit ? undefined : await openLedger({ dataDir: o.dataDir });
  const log = o.log.child({ component: 'response' });
  const dispatcher = new ResponseDispatcher({
    store, artifacts: new ArtifactStorage(join(o.dataDir, 'artifacts')), audit: o.audit ?? ledger!, send: o.send, log, config: o.config,
  });
  dispatcher.start();
  const logged = (what: string) => (err: unknown) => log.error({ err }, what);
  return {
    dispatcher,
    ingestHooks: {
      onCommandResult: (agent, r) => { void dispatcher.onCommandResult(agent, r); },
      onArtifactChunk: (agent, c) => { void dispatcher.onArtifactChunk(agent, c); },
      onAgentConnected: (agent) => { dispatcher.onAgentConnected(agent).catch(logged('redelivery failed')); },
    },
    async close() {
      await dispatcher.stop();
      await ledger?.close();
      await store.close();
    },
  };
}
