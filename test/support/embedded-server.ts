// Test helper: an embedded server in this process (real gRPC over TLS, chdb, SQLite) in a temporary data
// directory, a simulated agent enrolled on it, and calls to its API with the admin key.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { SimulatedAgent } from '../../src/agent/simulator.ts';
import { startEmbeddedServer, type RunningServer, type ServerOptions } from '../../src/server/embedded.ts';

export class TestServer {
  readonly dir: string;
  private readonly options: Partial<ServerOptions>;
  server!: RunningServer;
  agent!: SimulatedAgent;
  private key = '';

  private constructor(dir: string, options: Partial<ServerOptions>) {
    this.dir = dir;
    this.options = options;
  }

  static async start(name: string, options: Partial<ServerOptions> = {}): Promise<TestServer> {
    const t = new TestServer(mkdtempSync(join(tmpdir(), `vigil-${name}-`)), options);
    await t.open(name);
    return t;
  }

  private async open(agentName: string): Promise<void> {
    this.server = await startEmbeddedServer({ dataDir: this.dir, http: '127.0.0.1:0', grpc: '127.0.0.1:0', log: pino({ level: 'silent' }), ...this.options });
    this.key = readFileSync(this.server.adminKeyPath, 'utf8').trim();
    this.agent = await SimulatedAgent.enroll(this.server.grpcAddress, this.server.caPem, await this.server.createEnrollmentToken(), agentName);
    this.agent.connect();
  }

  /** Stops the server and starts it again on the same data directory, with a newly enrolled agent. */
  async restart(agentName: string): Promise<void> {
    this.agent.close();
    await this.server.stop();
    await this.open(agentName);
  }

  async api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
    const res = await fetch(`${this.server.httpUrl}${path}`, {
      method, headers: { authorization: `Bearer ${this.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  }

  async stop(): Promise<void> {
    this.agent?.close();
    await this.server?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
