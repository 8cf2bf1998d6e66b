// `vigil agent`: the endpoint agent on its own, for hosts other than the server's. Enrols with a token on
// its first start (the identity is kept in its data directory), then streams events until stopped.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

export const summary = 'run the endpoint agent (enrols on first start with --token)';

/**
 * V8 settings for a small daemon: a 1 MB young generation (garbage from event bursts is collected at
 * once instead of growing the heap), a heap that grows slowly and is capped well above what a full
 * process cache needs (~45 MB). The `vigil agent` process re-executes itself with them (same pid).
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=160', '--optimize-for-size'];
const TUNED_ENV = 'VIGIL_AGENT_NODE_FLAGS_SET';

/** Replaces this process with one running the same command under AGENT_NODE_FLAGS (once). */
function reexecWithAgentFlags(): void {
  if (process.env[TUNED_ENV] === '1' || process.env.VIGIL_AGENT_NODE_FLAGS === 'off') return;
  process.execve!(process.execPath, [process.execPath, ...process.execArgv, ...AGENT_NODE_FLAGS, ...process.argv.slice(1)],
    { ...process.env, [TUNED_ENV]: '1' });
}

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
  reexecWithAgentFlags();
  // Only now the agent's modules: the process that re-executes itself never loads them.
  const [{ Agent }, { ResponseExecutor }, { parseServerAddress }, { seedFromProc, selectSensor }, { createLogger }, { onShutdown }] = await Promise.all([
    import('../../agent/agent.ts'), import('../../agent/response/executor.ts'), import('../../agent/response/isolation.ts'),
    import('../../agent/sensors/select.ts'), import('../log.ts'), import('../shutdown.ts'),
  ]);
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
