// Wiring of response actions into a server process: a command store, artefact storage, the audit ledger, the
// dispatcher (started: expiry sweeps), and the hooks the ingest server calls (results, artefact chunks,
// reconnects). Embedded: SQLite at <data-dir>/response.db, artefacts under <data-dir>/artifacts/, the given
// sink or the ledger at <data-dir>/ledger.db. The scale-out API role passes its PostgreSQL store, artefact store
// and ledger.

import type { Logger } from 'pino';
import type { AuditSink } from '../ledger/sink.ts';
import type { AgentIdentity } from '../pki/pki.ts';
import type { ArtifactChunk, CommandResult } from '../schema/wire.ts';
import type { ArtifactStore } from './artifacts.ts';
import { ResponseDispatcher, type AgentSender, type OwnerOf, type ResponseConfig } from './dispatcher.ts';
import type { CommandStore } from './command-store.ts';

export interface ResponseServiceOptions {
  dataDir: string;
  log: Logger;
  send: AgentSender;
  audit?: AuditSink;
  config?: ResponseConfig;
  /** Who is accountable for an actor, for two-person approval (the API's AuthService.ownerOf). */
  ownerOf?: OwnerOf;
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

export interface ResponseParts {
  /** Migrated here; closed with the service. */
  store: CommandStore;
  /** Closed with the service. */
  artifacts: ArtifactStore;
  audit: AuditSink;
  send: AgentSender;
  log: Logger;
  config?: ResponseConfig;
  /** Who is accountable for an actor, for two-person approval (the API's AuthService.ownerOf). */
  ownerOf?: OwnerOf;
}

/** Starts a dispatcher over the given parts; closing the service stops it and closes the store. */
export async function startResponseService(p: ResponseParts): Promise<ResponseService> {
  await p.store.migrate();
  const log = p.log.child({ component: 'response' });
  const dispatcher = new ResponseDispatcher({
    store: p.store, artifacts: p.artifacts, audit: p.audit, send: p.send, log, config: p.config, ownerOf: p.ownerOf,
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
      await p.store.close();
    },
  };
}
