// `vigil up`: the embedded server and a local agent (enrolled automatically) in one process.
// Ctrl-C / SIGTERM flushes and stops cleanly; a restart on the same data directory continues.

import { join, resolve } from 'node:path';
import { Agent } from '../../agent/agent.ts';
import { runningFromProc, selectSensor } from '../../agent/sensors/select.ts';
import { ResponseExecutor } from '../../agent/response/executor.ts';
import { splitHostPort, startEmbeddedServer } from '../../server/embedded.ts';
import { rateLimitsOf, sharedSettings, type RoleConfig } from '../../server/roles.ts';
import { createLogger } from '../log.ts';
import { loadSettings, settingsUsage, type AllSettings } from '../settings.ts';
import { onShutdown } from '../shutdown.ts';

export const summary = 'start the embedded server and a local agent (no external service)';

export async function run(args: string[]): Promise<number> {
  let c: Partial<AllSettings> | 'help';
  try {
    c = loadSettings('up', args);
  } catch (err) {
    console.error(`vigil up: ${(err as Error).message}`);
    return 2;
  }
  if (c === 'help') {
    console.log(settingsUsage('up', 'up'));
    return 0;
  }
  const dataDir = resolve(c.dataDir!);
  const log = createLogger('vigil');
  const server = await startEmbeddedServer({
    ...sharedSettings(c as RoleConfig), security: { rateLimits: rateLimitsOf(c as RoleConfig) },
    dataDir, log, busSyncMs: c.busSyncMs, pipelineBatchWaitMs: c.pipelineBatchWaitMs, ruleDirs: c.ruleDirs, placeholders: c.placeholders, gtfobinsDir: c.gtfobinsDir, aiServicesFile: c.aiServicesFile,
    retentionDays: c.retentionDays,
    http: c.http!, grpc: c.grpc!,
  });
  let agent: Agent | undefined;
  if (!c.noAgent) {
    const agentDir = join(dataDir, 'agent');
    // Isolating the server's own host keeps its API and agent ports reachable (analysts and remote agents).
    const management = splitHostPort(server.grpcAddress);
    const responder = new ResponseExecutor({
      dataDir: agentDir, log: log.child({ component: 'response' }), management, servedPorts: [management.port, Number(new URL(server.httpUrl).port)],
    });
    await responder.start();
    agent = new Agent({
      ...responder.agentOptions(),
      dataDir: agentDir, server: server.grpcAddress, caPem: server.caPem, log: log.child({ component: 'agent' }),
      enrollmentToken: await server.createEnrollmentToken(5 * 60_000),
      sensor: await selectSensor({ prefer: c.sensor! }),
      runningProcesses: runningFromProc,
    });
    responder.attach(agent);
    await agent.start();
  }
  console.log(`vigil: API listening on ${server.httpUrl}/api/v1 (admin key in ${server.adminKeyPath})`);
  console.log(`vigil: agents connect to ${server.grpcAddress} (CA: ${join(dataDir, 'pki', 'ca.pem')})`);
  // Where secrets are, never the secrets themselves (stdout is often captured by service managers).
  console.log(`vigil: Prometheus metrics at ${server.httpUrl}/metrics (Bearer token in ${join(dataDir, 'metrics-token')})`);
  if (agent) console.log(`vigil: local agent ${agent.agentId} running`);
  await onShutdown(async () => {
    await agent?.stop();
    await server.stop();
  }, log);
  return 0;
}
