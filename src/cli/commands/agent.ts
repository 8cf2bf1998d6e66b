// `vigil agent`: the endpoint agent on its own, for hosts other than the server's. Enrols with a token on
// its first start (the identity is kept in its data directory), then streams events until stopped.

import { mkdirSync, readFileSync } from 'node:fs';
import { flushCompileCache } from 'node:module';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { execveWithNodeFlags, nodeFlagsSetting } from '../node-flags.ts';

export const summary = 'run the endpoint agent (enrols on first start with --token)';

/**
 * V8 settings for a small daemon: a young generation of at most 4 MB semi-spaces (1 MB cost ~40 % more
 * CPU per event and promoted batch buffers that then waited for a full GC), external memory (batch
 * buffers) counted in the limit that starts a full GC, and a heap capped well above what a full process
 * cache needs (~50 MB). (`--optimize-for-size` saved little memory and doubled the CPU time per event.)
 * `VIGIL_AGENT_NODE_FLAGS` replaces them (space-separated; `off`: no re-exec at all).
 */
export const AGENT_NODE_FLAGS = ['--max-semi-space-size=4', '--external-memory-accounted-in-global-limit', '--max-old-space-size=160'];
/**
 * glibc malloc settings (unless GLIBC_TUNABLES is set): two arenas instead of one per thread, and blocks
 * of 256 KiB and more (spool segments read back) mapped on their own. Event batches, gRPC and TLS buffers
 * stay on the heap: mapping and unmapping each of them (a 32 KiB threshold) cost a TLB shootdown across
 * the cores per munmap, ≈ 18 % of the agent's CPU under an exec storm (perf).
 */
export const MALLOC_TUNABLES = 'glibc.malloc.mmap_threshold=262144:glibc.malloc.arena_max=2';
const STAGE_ENV = 'VIGIL_AGENT_STAGE';

/**
 * Replaces this process (same pid, `process.execve`) with one running the same command under the agent's
 * V8 flags and with Node's compile cache in <data-dir>/compile-cache, so that the agent's TypeScript is
 * loaded already stripped (Node's TypeScript parser, ~18 MB, is then never loaded). Stage 1 is that
 * process; if its cache was cold, it re-executes itself once more (stage 2) after filling the cache.
 */
function reexec(stage: 1 | 2, dataDir: string): void {
  const setting = process.env.VIGIL_AGENT_NODE_FLAGS;
  if (setting === 'off' || Number(process.env[STAGE_ENV] ?? 0) >= stage) return;
  const cacheDir = join(dataDir, 'compile-cache');
  mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
  const flags = stage === 1 ? nodeFlagsSetting(setting, AGENT_NODE_FLAGS) : [];
  execveWithNodeFlags(flags, { GLIBC_TUNABLES: MALLOC_TUNABLES, ...process.env, [STAGE_ENV]: String(stage), NODE_COMPILE_CACHE: cacheDir });
}

/** Whether this process loaded Node's TypeScript parser (some module was not in the compile cache). */
function typeScriptParserLoaded(): boolean {
  return (process as unknown as { moduleLoadList?: string[] }).moduleLoadList?.some((m) => m.includes('internal/deps/amaro')) ?? false;
}

const HELP = `usage: vigil agent --server HOST:PORT --ca FILE [--token TOKEN] [--data-dir DIR] [--sensor auto|ebpf|proc] [--dns ADDR]...

  --server HOST:PORT  the server's agent endpoint (env VIGIL_SERVER)
  --ca FILE           the server's CA certificate, <server data dir>/pki/ca.pem (env VIGIL_CA)
  --token TOKEN       enrolment token, needed on the first start only (env VIGIL_ENROLLMENT_TOKEN)
  --data-dir DIR      identity, spool and state (default ./agent-data; env VIGIL_AGENT_DIR)
  --sensor MODE       auto (eBPF when root with BTF, else /proc), ebpf or proc
  --dns ADDR          a DNS resolver that stays reachable when the host is isolated (repeatable; default: /etc/resolv.conf)
  --hash-budget BYTES executables hashed (SHA-256, SHA-1, MD5) at most this many bytes a second (default 8388608; 0: no hashing)
  --hash-max-size BYTES  larger executables are not hashed (default 67108864)
                      (a policy's "hashing": {"enabled", "bytes_per_second", "max_file_bytes"} overrides both)`;

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: {
    server: { type: 'string' }, ca: { type: 'string' }, token: { type: 'string' }, 'data-dir': { type: 'string' },
    sensor: { type: 'string' }, help: { type: 'boolean' }, dns: { type: 'string', multiple: true },
    'hash-budget': { type: 'string' }, 'hash-max-size': { type: 'string' },
  } });
  if (values.help) { console.log(HELP); return 0; }
  const server = values.server ?? process.env.VIGIL_SERVER;
  const caFile = values.ca ?? process.env.VIGIL_CA;
  if (!server || !caFile) { console.error(`vigil agent: --server and --ca are required\n${HELP}`); return 2; }
  const dataDir = resolve(values['data-dir'] ?? process.env.VIGIL_AGENT_DIR ?? 'agent-data');
  const [budget, maxSize] = [values['hash-budget'], values['hash-max-size']].map((v) => (v === undefined ? undefined : Number(v)));
  if ([budget, maxSize].some((n) => n !== undefined && (!Number.isSafeInteger(n) || n < 0))) {
    console.error('vigil agent: --hash-budget and --hash-max-size take a number of bytes');
    return 2;
  }
  const hashing = { ...(budget !== undefined ? { enabled: budget > 0, bytesPerSecond: budget } : {}), ...(maxSize !== undefined ? { maxFileBytes: maxSize } : {}) };
  reexec(1, dataDir);
  // Only now the agent's modules: the process that re-executes itself never loads them (with a cold
  // compile cache, stage 1 loads them to fill it, then re-executes).
  const [{ Agent }, { ResponseExecutor }, { parseServerAddress }, { runningFromProc, selectSensor }, { createLogger }, { onShutdown }] = await Promise.all([
    import('../../agent/agent.ts'), import('../../agent/response/executor.ts'), import('../../agent/response/isolation.ts'),
    import('../../agent/sensors/select.ts'), import('../log.ts'), import('../shutdown.ts'),
  ]);
  flushCompileCache();
  if (typeScriptParserLoaded()) reexec(2, dataDir);
  const log = createLogger('vigil-agent');
  // Response actions: isolation state is enforced before the agent connects.
  const responder = new ResponseExecutor({ dataDir, log: log.child({ component: 'response' }), management: parseServerAddress(server), dns: values.dns });
  await responder.start();
  const agent = new Agent({
    ...responder.agentOptions(), dataDir, server,
    caPem: readFileSync(caFile, 'utf8'), enrollmentToken: values.token ?? process.env.VIGIL_ENROLLMENT_TOKEN, log,
    sensor: await selectSensor({ prefer: (values.sensor as 'auto' | 'ebpf' | 'proc' | undefined) ?? 'auto' }),
    runningProcesses: runningFromProc, hashing,
  });
  responder.attach(agent);
  await agent.start();
  console.log(`vigil: agent ${agent.agentId} streaming to ${server}`);
  await onShutdown(() => agent.stop(), log);
  return 0;
}
