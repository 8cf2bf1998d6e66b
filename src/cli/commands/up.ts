// `vigil up`: the embedded server and a local agent (enrolled automatically) in one process.
// Ctrl-C / SIGTERM flushes and stops cleanly; a restart on the same data directory continues.

import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { Agent } from '../../agent/agent.ts';
import { runningFromProc, selectSensor } from '../../agent/sensors/select.ts';
import { ResponseExecutor } from '../../agent/response/executor.ts';
import { splitHostPort, startEmbeddedServer } from '../../server/embedded.ts';
import { createLogger } from '../log.ts';
import { onShutdown } from '../shutdown.ts';

export const summary = 'start the embedded server and a local agent (no external service)';

const HELP = `usage: vigil up [--data-dir DIR] [--http HOST:PORT] [--grpc HOST:PORT] [--no-agent] [--sensor auto|ebpf|proc]
                [--rules DIR]... [--placeholders FILE] [--ir-two-person] [--ir-expiry SECONDS] [--auto-response]
                [--auto-response-tenants '*'|ID,...] [--allow-private-alert-sinks] [--bus-sync-ms MS] [--pipeline-batch-wait-ms MS]

  --data-dir DIR     where everything is kept (default ./data; env VIGIL_DATA_DIR)
  --http HOST:PORT   REST API and console (default 127.0.0.1:8440; env VIGIL_HTTP)
  --grpc HOST:PORT   agent endpoint, mutual TLS (default 127.0.0.1:8443; env VIGIL_GRPC)
  --no-agent         start only the server
  --sensor MODE      the local agent's sensor (default auto: eBPF when possible, else /proc)
  --rules DIR        Sigma rules to load besides the built-in ones (repeatable; e.g. a SigmaHQ checkout's rules/)
  --placeholders F   YAML map of values for rules that use %placeholders%
  --ir-two-person    isolation needs a second principal's approval (env VIGIL_IR_TWO_PERSON=1)
  --ir-expiry S      response actions not done within S seconds expire (default 86400; env VIGIL_IR_EXPIRY_S)
  --auto-response    run the responses rules name (kill_process, collect_triage) for high and critical
                     alerts, at most 5 per host and hour (env VIGIL_AUTO_RESPONSE=1); a rule uploaded through
                     the API responds only on hosts of its writer's tenant
  --auto-response-tenants LIST  tenants in which the responses of rule files (built-ins, --rules) run: '*' for every
                     tenant, or tenant ids separated by commas (default: default; env VIGIL_AUTO_RESPONSE_TENANTS)
  --allow-private-alert-sinks  alert webhooks may target loopback, private, link-local and metadata addresses
                     (refused by default against SSRF; env VIGIL_ALLOW_PRIVATE_ALERT_SINKS=1)
  --rate-limit-user N    API requests per minute per user or key, burst 2× (default 1000; env VIGIL_RATE_LIMIT_USER)
  --rate-limit-tenant N  API requests per minute per tenant, burst 2× (default 10000; env VIGIL_RATE_LIMIT_TENANT)
  --bus-sync-ms MS   0 (default): an agent's batch is acknowledged once fdatasync'ed on the bus log (survives
                     a power cut); MS > 0: once written to it (survives the process), fdatasync'ed within MS ms,
                     as JetStream does; shorter ack latency where the disk's flushes are slow (env VIGIL_BUS_SYNC_MS)
  --pipeline-batch-wait-ms MS  how long events wait to be stored and detected in batches (default 1000; larger
                     batches cost the event store less CPU; env VIGIL_PIPELINE_BATCH_WAIT_MS)`;

/** A per-minute limit with seed 001's burst of 2×; undefined when not set, null when not a whole number. */
function rateLimit(v: string | undefined): { perMinute: number; burst: number } | undefined | null {
  if (v === undefined) return undefined;
  const n = Number(v);
  return Number.isInteger(n) && n > 0 ? { perMinute: n, burst: 2 * n } : null;
}

/** A whole number of milliseconds from 0 to `max`; null when it is not. */
function millis(v: string, max: number): number | null {
  const n = Number(v);
  return Number.isInteger(n) && n >= 0 && n <= max ? n : null;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: {
    'data-dir': { type: 'string' }, http: { type: 'string' }, grpc: { type: 'string' },
    'no-agent': { type: 'boolean' }, sensor: { type: 'string' }, help: { type: 'boolean' },
    rules: { type: 'string', multiple: true }, placeholders: { type: 'string' },
    'ir-two-person': { type: 'boolean' }, 'ir-expiry': { type: 'string' }, 'auto-response': { type: 'boolean' }, 'auto-response-tenants': { type: 'string' },
    'allow-private-alert-sinks': { type: 'boolean' },
    'rate-limit-user': { type: 'string' }, 'rate-limit-tenant': { type: 'string' }, 'bus-sync-ms': { type: 'string' },
    'pipeline-batch-wait-ms': { type: 'string' },
  } });
  if (values.help) { console.log(HELP); return 0; }
  const dataDir = resolve(values['data-dir'] ?? process.env.VIGIL_DATA_DIR ?? 'data');
  const irExpiryS = Number(values['ir-expiry'] ?? process.env.VIGIL_IR_EXPIRY_S ?? 86_400);
  if (!Number.isInteger(irExpiryS) || irExpiryS < 1) { console.error('vigil up: --ir-expiry must be a whole number of seconds'); return 2; }
  const perUser = rateLimit(values['rate-limit-user'] ?? process.env.VIGIL_RATE_LIMIT_USER);
  const perTenant = rateLimit(values['rate-limit-tenant'] ?? process.env.VIGIL_RATE_LIMIT_TENANT);
  if (perUser === null || perTenant === null) { console.error('vigil up: rate limits are whole numbers of requests per minute'); return 2; }
  const busSyncMs = millis(values['bus-sync-ms'] ?? process.env.VIGIL_BUS_SYNC_MS ?? '0', 60_000);
  if (busSyncMs === null) { console.error('vigil up: --bus-sync-ms must be a whole number of milliseconds, 0 to 60000'); return 2; }
  const pipelineBatchWaitMs = millis(values['pipeline-batch-wait-ms'] ?? process.env.VIGIL_PIPELINE_BATCH_WAIT_MS ?? '1000', 10_000);
  if (pipelineBatchWaitMs === null) { console.error('vigil up: --pipeline-batch-wait-ms must be a whole number of milliseconds, 0 to 10000'); return 2; }
  const tenantList = (values['auto-response-tenants'] ?? process.env.VIGIL_AUTO_RESPONSE_TENANTS)?.trim();
  const operatorRuleTenants = tenantList === undefined ? {}
    : { operatorRuleTenants: tenantList === '*' ? '*' as const : tenantList.split(',').map((t) => t.trim()).filter(Boolean) };
  const log = createLogger('vigil');
  const server = await startEmbeddedServer({
    security: { rateLimits: { ...(perUser ? { perUser } : {}), ...(perTenant ? { perTenant } : {}) } },
    dataDir, log, busSyncMs, pipelineBatchWaitMs, ruleDirs: values.rules, placeholders: values.placeholders,
    autoResponse: { enabled: values['auto-response'] ?? process.env.VIGIL_AUTO_RESPONSE === '1', ...operatorRuleTenants },
    response: { requireIsolationApproval: values['ir-two-person'] ?? process.env.VIGIL_IR_TWO_PERSON === '1', commandTtlMs: irExpiryS * 1000 },
    allowPrivateAlertSinks: values['allow-private-alert-sinks'] ?? process.env.VIGIL_ALLOW_PRIVATE_ALERT_SINKS === '1',
    http: values.http ?? process.env.VIGIL_HTTP ?? '127.0.0.1:8440',
    grpc: values.grpc ?? process.env.VIGIL_GRPC ?? '127.0.0.1:8443',
  });
  let agent: Agent | undefined;
  if (!values['no-agent']) {
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
      sensor: await selectSensor({ prefer: (values.sensor as 'auto' | 'ebpf' | 'proc' | undefined) ?? 'auto' }),
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
