// Configuration of the scale-out roles (`vigil ingest|worker|api|server`): one table of settings, each
// with its flag, `VIGIL_*` variable, YAML file key and default; later sources win: defaults → config file
// (--config / VIGIL_CONFIG, keys as the flag names) → environment → flags. Values are checked here, so a
// role never starts on a malformed setting.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_EVENTS_MAX_BYTES } from '../bus/jetstream.ts';
import type { RoleConfig } from '../server/roles.ts';
import { INGEST_NODE_FLAGS } from './node-flags.ts';

export type { RoleConfig };

type Kind = 'string' | 'optional-string' | 'string-list' | 'int' | 'optional-int' | 'int-list' | 'boolean';
interface Setting { key: keyof RoleConfig; flag: string; env: string; kind: Kind; fallback: string; help: string; min?: number }

export const SETTINGS: readonly Setting[] = [
  { key: 'nats', flag: 'nats', env: 'VIGIL_NATS_URL', kind: 'string', fallback: 'nats://127.0.0.1:4222', help: 'NATS servers, comma-separated' },
  { key: 'busNamespace', flag: 'bus-namespace', env: 'VIGIL_BUS_NAMESPACE', kind: 'string', fallback: '', help: 'prefix of subjects and streams (one NATS, several deployments)' },
  { key: 'busMaxBytes', flag: 'bus-max-bytes', env: 'VIGIL_BUS_MAX_BYTES', kind: 'int', fallback: String(DEFAULT_EVENTS_MAX_BYTES), min: 2 ** 20, help: 'disk bound of the events stream\'s backlog in bytes (at it, ingest stops acknowledging; agents keep spooling); the other streams get fixed shares, ≈ 1.4 × this reserved in JetStream in all' },
  { key: 'busReplicas', flag: 'bus-replicas', env: 'VIGIL_BUS_REPLICAS', kind: 'optional-int', fallback: '', help: 'replicas of the JetStream streams a role creates (1–5; default 3 on a NATS cluster of three or more servers, else 1); an existing stream keeps its own, with a warning' },
  { key: 'eventPartitions', flag: 'event-partitions', env: 'VIGIL_EVENT_PARTITIONS', kind: 'int', fallback: '1', help: 'host partitions of the events stream (same on every process)' },
  { key: 'ownedPartitions', flag: 'partitions', env: 'VIGIL_PARTITIONS', kind: 'int-list', fallback: '', help: 'worker: the partitions it consumes, e.g. 0,2 (default all)' },
  { key: 'workerCount', flag: 'worker-count', env: 'VIGIL_WORKER_COUNT', kind: 'optional-int', fallback: '', help: 'worker: how many workers share the partitions (with --worker-index, instead of --partitions)' },
  { key: 'workerIndex', flag: 'worker-index', env: 'VIGIL_WORKER_INDEX', kind: 'optional-int', fallback: '', help: 'worker: this worker\'s index from 0 (e.g. the StatefulSet pod index); owns partitions p with p mod count = index' },
  { key: 'partitionLeaseMs', flag: 'partition-lease-ms', env: 'VIGIL_PARTITION_LEASE_MS', kind: 'int', fallback: '15000', min: 1000, help: 'worker: lease time of its partitions; a dead worker\'s are taken over after it (unless --partitions or --worker-count pin them)' },
  { key: 'clickhouse', flag: 'clickhouse', env: 'VIGIL_CLICKHOUSE_URL', kind: 'string', fallback: 'http://127.0.0.1:8123', help: 'ClickHouse HTTP endpoint' },
  { key: 'clickhouseUser', flag: 'clickhouse-user', env: 'VIGIL_CLICKHOUSE_USER', kind: 'string', fallback: 'default', help: 'ClickHouse user' },
  { key: 'clickhousePassword', flag: 'clickhouse-password', env: 'VIGIL_CLICKHOUSE_PASSWORD', kind: 'string', fallback: '', help: 'ClickHouse password (prefer the variable)' },
  { key: 'clickhouseDatabase', flag: 'clickhouse-database', env: 'VIGIL_CLICKHOUSE_DATABASE', kind: 'string', fallback: 'default', help: 'ClickHouse database' },
  { key: 'postgres', flag: 'postgres', env: 'VIGIL_POSTGRES_URL', kind: 'string', fallback: 'postgres://postgres@127.0.0.1:5432/vigil', help: 'PostgreSQL connection URL' },
  { key: 'grpc', flag: 'grpc', env: 'VIGIL_GRPC', kind: 'string', fallback: '0.0.0.0:8443', help: 'ingest: agent endpoint HOST:PORT (mutual TLS)' },
  { key: 'http', flag: 'http', env: 'VIGIL_HTTP', kind: 'string', fallback: '0.0.0.0:8440', help: 'api: REST API HOST:PORT' },
  { key: 'health', flag: 'health', env: 'VIGIL_HEALTH', kind: 'string', fallback: '0.0.0.0:8441', help: '/healthz, /readyz and /metrics HOST:PORT' },
  { key: 'metricsToken', flag: 'metrics-token', env: 'VIGIL_METRICS_TOKEN', kind: 'optional-string', fallback: '', help: 'the Bearer token /metrics requires, 16+ characters (prefer the variable); without it /metrics refuses every scrape' },
  { key: 'pkiDir', flag: 'pki-dir', env: 'VIGIL_PKI_DIR', kind: 'string', fallback: '/var/lib/vigil/pki', help: 'ingest: agent CA (shared by all ingest processes)' },
  { key: 'agentEndpoint', flag: 'agent-endpoint', env: 'VIGIL_AGENT_ENDPOINT', kind: 'optional-string', fallback: '', help: 'api: the ingest endpoint HOST:PORT as agents dial it, shown with new enrolment tokens (default: this process\'s ingest role; the CA from <pki-dir>/ca.pem)' },
  { key: 'retentionDays', flag: 'retention-days', env: 'VIGIL_RETENTION_DAYS', kind: 'int', fallback: '90', help: 'event retention (ClickHouse TTL)' },
  { key: 'ackWaitMs', flag: 'ack-wait-ms', env: 'VIGIL_ACK_WAIT_MS', kind: 'int', fallback: '30000', help: 'worker: redelivery delay of a batch a dead worker held' },
  { key: 'ruleDirs', flag: 'rule-dirs', env: 'VIGIL_RULE_DIRS', kind: 'string-list', fallback: '', help: 'worker, api: Sigma rule directories besides the built-ins, comma-separated (the same on every process)' },
  { key: 'placeholders', flag: 'placeholders', env: 'VIGIL_PLACEHOLDERS', kind: 'optional-string', fallback: '', help: 'worker, api: YAML map of values for rules with %placeholders%' },
  { key: 'redis', flag: 'redis', env: 'VIGIL_REDIS_URL', kind: 'optional-string', fallback: '', help: 'api: Redis URL for rate limits shared by every API process (default: per process)' },
  { key: 'allowPrivateAlertSinks', flag: 'allow-private-alert-sinks', env: 'VIGIL_ALLOW_PRIVATE_ALERT_SINKS', kind: 'boolean', fallback: '0', help: 'api: alert webhooks may target loopback, private, link-local and metadata addresses (SSRF guard off): 1 or 0' },
  { key: 'irTwoPerson', flag: 'ir-two-person', env: 'VIGIL_IR_TWO_PERSON', kind: 'boolean', fallback: '0', help: 'api: isolation needs a second principal\'s approval: 1 or 0' },
  { key: 'irExpirySeconds', flag: 'ir-expiry', env: 'VIGIL_IR_EXPIRY_S', kind: 'int', fallback: '86400', help: 'api: response actions not done within this many seconds expire' },
  { key: 'autoResponse', flag: 'auto-response', env: 'VIGIL_AUTO_RESPONSE', kind: 'boolean', fallback: '0', help: 'api: run the responses rules name (kill_process, collect_triage) for high and critical alerts, at most 5 per host and hour per API process: 1 or 0' },
  { key: 'autoResponseTenants', flag: 'auto-response-tenants', env: 'VIGIL_AUTO_RESPONSE_TENANTS', kind: 'optional-string', fallback: '', help: 'api: tenants in which the responses of rule files run: \'*\' or ids separated by commas (default: default)' },
  { key: 'rateLimitUser', flag: 'rate-limit-user', env: 'VIGIL_RATE_LIMIT_USER', kind: 'optional-int', fallback: '', min: 1, help: 'api: requests per minute per user or key, burst 2× (default 1000)' },
  { key: 'rateLimitTenant', flag: 'rate-limit-tenant', env: 'VIGIL_RATE_LIMIT_TENANT', kind: 'optional-int', fallback: '', min: 1, help: 'api: requests per minute per tenant, burst 2× (default 10000)' },
  { key: 'workerBatch', flag: 'worker-batch', env: 'VIGIL_WORKER_BATCH', kind: 'int', fallback: '256', help: 'worker: most bus messages per ClickHouse insert' },
  { key: 'workerIdleScheduling', flag: 'worker-idle-scheduling', env: 'VIGIL_WORKER_IDLE_SCHEDULING', kind: 'boolean', fallback: '1', help: 'worker, in a process without ingest: run under SCHED_IDLE, only on CPU time nothing else wants (on a shared host ingest and NATS answer agents first): 1 or 0' },
  { key: 'workerNice', flag: 'worker-nice', env: 'VIGIL_WORKER_NICE', kind: 'int', fallback: '5', min: 0, help: 'worker, in a process without ingest: its CPU nice value (0–19; what counts without idle scheduling)' },
  { key: 'workerBatchWaitMs', flag: 'worker-batch-wait-ms', env: 'VIGIL_WORKER_BATCH_WAIT_MS', kind: 'int', fallback: '250', min: 0, help: 'worker: how long a batch may wait to fill before its insert (fewer, larger inserts; events are stored and detected that much later)' },
];

function convert(s: Setting, raw: string): RoleConfig[keyof RoleConfig] {
  if (s.kind === 'string') return raw;
  if (s.kind === 'optional-string') return raw.trim() === '' ? undefined : raw;
  if (s.kind === 'string-list') return raw.split(',').map((x) => x.trim()).filter((x) => x !== '');
  if (s.kind === 'boolean') {
    const v = raw.trim().toLowerCase();
    if (!['1', '0', 'true', 'false'].includes(v)) throw new Error(`${s.flag}: expected 1, 0, true or false, got '${raw}'`);
    return v === '1' || v === 'true';
  }
  if (s.kind === 'int') {
    if (!/^\d+$/.test(raw.trim()) || Number(raw) < (s.min ?? 1)) throw new Error(`${s.flag}: expected an integer of at least ${s.min ?? 1}, got '${raw}'`);
    return Number(raw);
  }
  if (raw.trim() === '') return undefined;
  if (s.kind === 'optional-int') {
    if (!/^\d+$/.test(raw.trim())) throw new Error(`${s.flag}: expected an integer, got '${raw}'`);
    if (s.min !== undefined && Number(raw) < s.min) throw new Error(`${s.flag}: expected an integer of at least ${s.min}, got '${raw}'`);
    return Number(raw);
  }
  const list = raw.split(',').map((x) => x.trim());
  if (!list.every((x) => /^\d+$/.test(x))) throw new Error(`${s.flag}: expected integers separated by commas, got '${raw}'`);
  return list.map(Number);
}

function readConfigFile(path: string): Record<string, string> {
  const doc = parseYaml(readFileSync(path, 'utf8')) as unknown;
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${path}: expected a mapping of settings`);
  const known = new Set(SETTINGS.map((s) => s.flag));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc)) {
    if (!known.has(k)) throw new Error(`${path}: unknown setting '${k}'`);
    out[k] = Array.isArray(v) ? v.join(',') : String(v);
  }
  return out;
}

export function roleUsage(command: string): string {
  return [`usage: vigil ${command} [--config FILE] [--SETTING VALUE …]`, '',
    ...SETTINGS.map((s) => `  --${s.flag.padEnd(20)} ${s.help} (env ${s.env}; default ${s.fallback || 'none'})`), '',
    `Environment only: VIGIL_INGEST_NODE_FLAGS, the V8 flags \`vigil ingest\` re-executes itself under (default ${INGEST_NODE_FLAGS.join(' ')}; off: none).`].join('\n');
}

/** Settings from defaults, file, environment and flags; throws with the setting's name on bad values. */
export function loadRoleConfig(args: string[], env: NodeJS.ProcessEnv = process.env): RoleConfig | 'help' {
  const options = Object.fromEntries(SETTINGS.map((s) => [s.flag, { type: 'string' as const }]));
  const { values } = parseArgs({ args, options: { ...options, config: { type: 'string' }, help: { type: 'boolean' } }, strict: true });
  if (values.help) return 'help';
  const flags = values as Record<string, string | boolean | undefined>;
  const configPath = (flags.config as string | undefined) ?? env.VIGIL_CONFIG;
  const file = configPath ? readConfigFile(configPath) : {};
  const config: Partial<Record<keyof RoleConfig, unknown>> = {};
  for (const s of SETTINGS) {
    const raw = (flags[s.flag] as string | undefined) ?? env[s.env] ?? file[s.flag] ?? s.fallback;
    config[s.key] = convert(s, raw);
  }
  if (config.busReplicas !== undefined && ((config.busReplicas as number) < 1 || (config.busReplicas as number) > 5)) throw new Error(`bus-replicas: expected 1 to 5 (JetStream's limit), got ${String(config.busReplicas)}`);
  // Its value is a secret: the message never repeats it.
  if (typeof config.metricsToken === 'string' && config.metricsToken.trim().length < 16) throw new Error('metrics-token: expected at least 16 characters');
  return withWorkerPartitions(config as RoleConfig);
}

/** --worker-index/--worker-count → the partitions this worker owns (explicit --partitions wins). */
function withWorkerPartitions(c: RoleConfig): RoleConfig {
  if (c.ownedPartitions || c.workerCount === undefined) return c;
  const index = c.workerIndex ?? 0;
  if (c.workerCount < 1 || index >= c.workerCount) throw new Error(`worker-index: ${index} is not below worker-count ${c.workerCount}`);
  if (c.workerCount > c.eventPartitions) throw new Error(`worker-count ${c.workerCount} exceeds event-partitions ${c.eventPartitions}: some workers would idle`);
  return { ...c, ownedPartitions: Array.from({ length: c.eventPartitions }, (_, p) => p).filter((p) => p % c.workerCount! === index) };
}
