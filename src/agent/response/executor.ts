// The agent's response executor: receives commands from the server's stream, answers a command id it has seen
// from its journal (idempotent), refuses expired or malformed commands, runs the action (isolate, release,
// kill_process, list_processes, collect_triage, get_file), and reports running → succeeded | failed. Artefacts go
// up through a windowed uploader. Isolation state is restored at start and reported in every heartbeat.

import type { Logger } from 'pino';
import { isResponseAction, parseParamsJson, ParamError, type ParamsOf, type ResponseAction } from '../../response/model.ts';
import type { ArtifactAck, CommandResult, WireCommand } from '../../schema/wire.ts';
import { IsolationController, resolveManagement, runNft, systemResolvers, type NftRunner } from './isolation.ts';
import { CommandJournal, isCommandId } from './journal.ts';
import { killProcess, listProcesses } from './processes.ts';
import { collectTriage, fetchFile } from './triage.ts';
import { ArtifactUploader, uploadSink, type ChunkLink } from './uploader.ts';

/** What the executor needs of the agent (Agent implements it). */
export interface ResponseLink extends ChunkLink {
  readonly agentId: string;
  sendCommandResult(r: CommandResult): boolean;
  heartbeat(): void;
}

export interface ExecutorOptions {
  dataDir: string;
  log: Logger;
  /** The management server (the agent's gRPC endpoint): stays reachable under isolation. */
  management: { host: string; port: number };
  /** DNS resolvers that stay reachable under isolation (default: those of /etc/resolv.conf). */
  dns?: string[];
  /** TCP ports this host serves that stay reachable under isolation (the Vigil server's own, under `vigil up`). */
  servedPorts?: number[];
  nft?: NftRunner;
}

type Handlers = { [A in ResponseAction]: (p: ParamsOf[A], id: string) => Promise<unknown> };

export class ResponseExecutor {
  private readonly o: ExecutorOptions;
  private readonly journal: CommandJournal;
  readonly isolation: IsolationController;
  private readonly active = new Set<string>();
  private readonly uploads = new Map<string, ArtifactUploader>();
  private link: ResponseLink | undefined;
  private readonly handlers: Handlers;

  constructor(o: ExecutorOptions) {
    this.o = o;
    this.journal = new CommandJournal(o.dataDir);
    this.isolation = new IsolationController(o.dataDir, o.nft ?? runNft);
    this.handlers = {
      isolate: (p, id) => this.isolate(p.dns, id),
      release: async () => this.isolation.release().then((s) => this.changedIsolation(s)),
      kill_process: (p) => killProcess(this.agentLink().agentId, p),
      list_processes: async (p) => listProcesses(this.agentLink().agentId, p),
      collect_triage: (p, id) => this.upload(id, (sink) => collectTriage(p, sink)),
      get_file: (p, id) => this.upload(id, (sink) => fetchFile(p, sink)),
    };
  }

  /** Connects the executor to its agent (before the agent starts). */
  attach(link: ResponseLink): void {
    this.link = link;
  }

  /** Enforces the persisted isolation state (call before the agent connects) and prunes the journal. */
  async start(): Promise<void> {
    this.journal.prune();
    try {
      await this.isolation.restore();
    } catch (err) {
      this.o.log.error({ err: (err as Error).message, isolated: this.isolation.current.isolated }, 'isolation state could not be enforced at start');
    }
  }

  /** The Agent options that connect it to this executor (commands, upload credit, isolation in heartbeats). */
  agentOptions() {
    return {
      onCommand: (c: WireCommand) => this.handle(c),
      onArtifactAck: (a: ArtifactAck) => this.onArtifactAck(a),
      healthExtras: () => this.health(),
    };
  }

  health(): { isolated: boolean } {
    return { isolated: this.isolation.current.isolated };
  }

  onArtifactAck(a: ArtifactAck): void {
    this.uploads.get(a.command_id)?.onAck(a);
  }

  /** Handles one command from the server; never throws. */
  handle(cmd: WireCommand): void {
    this.run(cmd).catch((err: unknown) => this.o.log.error({ err, id: cmd.id }, 'response command crashed'));
  }

  private async run(cmd: WireCommand): Promise<void> {
    if (!isCommandId(cmd.id)) return this.o.log.warn({ id: cmd.id }, 'command with a malformed id ignored');
    if (this.active.has(cmd.id)) return this.report({ id: cmd.id, status: 'running' }, false);
    const seen = this.journal.get(cmd.id);
    if (seen?.status === 'running') return this.report({ id: cmd.id, status: 'failed', error: 'the agent stopped while the command ran' });
    if (seen) return this.report(seen, false);
    if (cmd.expires_at && Date.parse(cmd.expires_at) < Date.now()) {
      return this.report({ id: cmd.id, status: 'failed', error: 'expired before the agent received it' });
    }
    if (!isResponseAction(cmd.action)) return this.report({ id: cmd.id, status: 'failed', error: `unknown action '${cmd.action}'` });
    await this.execute(cmd.id, cmd.action, cmd.params_json);
  }

  private async execute<A extends ResponseAction>(id: string, action: A, paramsJson: string | undefined): Promise<void> {
    let params: ParamsOf[A];
    try {
      params = parseParamsJson(action, paramsJson);
    } catch (err) {
      if (!(err instanceof ParamError)) throw err;
      return this.report({ id, status: 'failed', error: `bad parameters: ${err.message}` });
    }
    this.active.add(id);
    this.report({ id, status: 'running' });
    this.o.log.info({ id, action }, 'response command running');
    try {
      const result = await (this.handlers[action] as (p: ParamsOf[A], id: string) => Promise<unknown>)(params, id);
      this.report({ id, status: 'succeeded', result_json: JSON.stringify(result ?? {}) });
    } catch (err) {
      this.report({ id, status: 'failed', error: (err as Error).message.slice(0, 4000) });
    } finally {
      this.active.delete(id);
    }
  }

  /** Journals (unless it is a replay) and sends a result; a send while disconnected is answered at redelivery. */
  private report(r: CommandResult, journal = true): void {
    if (journal) this.journal.put(r);
    this.link?.sendCommandResult(r);
  }

  private agentLink(): ResponseLink {
    if (!this.link) throw new Error('response executor is not attached to an agent');
    return this.link;
  }

  private async isolate(dns: string[] | undefined, id: string) {
    const spec = {
      managementAddresses: await resolveManagement(this.o.management.host), managementPort: this.o.management.port,
      dns: dns ?? this.o.dns ?? systemResolvers(), ...(this.o.servedPorts ? { servedPorts: this.o.servedPorts } : {}),
    };
    return this.changedIsolation(await this.isolation.isolate(spec, id));
  }

  private changedIsolation(s: { isolated: boolean }) {
    this.link?.heartbeat();
    return s;
  }

  private async upload<T>(id: string, produce: (sink: ReturnType<typeof uploadSink>) => Promise<T>): Promise<T> {
    const uploader = new ArtifactUploader(this.agentLink(), id);
    this.uploads.set(id, uploader);
    try {
      return await produce(uploadSink(uploader));
    } finally {
      this.uploads.delete(id);
    }
  }
}
