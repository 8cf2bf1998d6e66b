// `vigil agent`: the endpoint agent on its own, for hosts other than the server's. Enrols with a token on
// its first start (the identity is kept in its data directory), then streams events until stopped.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent } from '../../agent/agent.ts';
import { ResponseExecutor } from '../../agent/response/executor.ts';
import { parseServerAddress } from '../../agent/response/isolation.ts';
import { seedFromProc, selectSensor } from '../../agent/sensors/select.ts';
import { createLogger } from '../log.ts';
import { onShutdown } from '../shutdown.ts';

export const summary = 'run the endpoint agent (enrols on first start with --token)';

const HELP = `usage: vigil agent --server HOST:PORT --ca FILE [--token TOKEN] [--data-dir DIR] [--sensor auto|ebpf|proc] [--dns ADDR]...

  --server HOST:PORT  the server's agent endpoint (env VIGIL_SERVER)
  --ca FILE           the server's CA certificate, <server data dir>/pki/ca.pem (env VIGIL_CA)
  --token TOKEN       enrolment token, needed on the first start only (env VIGIL_ENROLLMENT_TOKEN)
  --data-dir DIR      identity, spool and state (default ./agent-data; env VIGIL_AGENT_DIR)
  --sensor MODE       auto (eBPF when root with BTF, else /proc), ebpf or proc
  --dns ADDR          a DNS resolver that stays reachable when the host is isolated (repeatable; default: /etc/resolv.conf)`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: {
    server: { type: 'string' }, ca: { type: 'string' }, token: { type: 'string' }, 'data-dir': { type: 'string' },
    sensor: { type: 'string' }, help: { type: 'boolean' }, dns: { type: 'string', multiple: true },
  } });
  if (values.help) { console.log(HELP); return 0; }
  const server = values.server ?? process.env.VIGIL_SERVER;
  const caFile = values.ca ?? process.env.VIGIL_CA;
  if (!server || !caFile) { console.error(`vigil agent: --server and --ca are required\n${HELP}`); return 2; }
  const log = createLogger('vigil-agent');
  const dataDir = resolve(values['data-dir'] ?? process.env.VIGIL_AGENT_DIR ?? 'agent-data');
  // Response actions: isolation state is enforced before the agent connects.
  const responder = new ResponseExecutor({ dataDir, log: log.child({ component: 'response' }), management: parseServerAddress(server), dns: values.dns });
  await responder.start();
  const agent = new Agent({
    ...responder.agentOptions(), dataDir, server,
    caPem: readFileSync(caFile, 'utf8'), enrollmentToken: values.token ?? process.env.VIGIL_ENROLLMENT_TOKEN, log,
    sensor: await selectSensor({ prefer: (values.sensor as 'auto' | 'ebpf' | 'proc' | undefined) ?? 'auto' }),
    seedProcesses: (cache) => seedFromProc(cache),
  });
  responder.attach(agent);
  await agent.start();
  console.log(`vigil: agent ${agent.agentId} streaming to ${server}`);
  await onShutdown(() => agent.stop(), log);
  return 0;
}
