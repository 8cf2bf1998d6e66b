// The server's settings, one table for both deployments: `vigil up` (embedded) and the scale-out roles
// (`vigil ingest|worker|api|server`). Each setting has one flag, one `VIGIL_*` variable, one config-file key (the
// flag's name), a default per deployment where they differ, and the places it applies. Later sources win:
// defaults → config file (--config / VIGIL_CONFIG) → environment → flags. Booleans are given bare (`--auto-response`)
// or with a value (`--auto-response 1`, `=0`, `true`, `false`); lists by repeating the flag or with commas.
// Values are checked here, so no process starts on a malformed setting. The README's configuration table is
// made from this table (`settingsTable`; test/cli/settings.test.ts keeps them equal).

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { DEFAULT_EVENTS_MAX_BYTES } from '../bus/jetstream.ts';
import type { RoleConfig } from '../server/roles.ts';

/** Where a setting applies: the embedded server, or a scale-out role. */
export type Place = 'up' | 'ingest' | 'worker' | 'api';
export type Deployment = 'up' | 'roles';

/** `vigil up`'s own settings besides those it shares with the roles. */
export interface UpOnlySettings {
  dataDir: string;
  noAgent: boolean;
  sensor: 'auto' | 'ebpf' | 'proc';
  busSyncMs: number;
}

export type AllSettings = RoleConfig & UpOnlySettings;

type Kind = 'string' | 'optional-string' | 'string-list' | 'int' | 'optional-int' | 'int-list' | 'boolean';

export interface Setting {
  key: keyof AllSettings;
  flag: string;
  /** Older flag names still accepted. */
  aliases?: string[];
  env: string;
  kind: Kind;
  /** Default: one for both deployments, or each its own. */
  fallback: string | Record<Deployment, string>;
  help: string;
  applies: Place[];
  min?: number;
  max?: number;
  /** Allowed values (string kinds). */
  choices?: string[];
}

const ROLES: Place[] = ['ingest', 'worker', 'api'];
const WORKER_API: Place[] = ['worker', 'api'];

export const SETTINGS: readonly Setting[] = [
  // ---- both deployments ----
  { key: 'http', flag: 'http', env: 'VIGIL_HTTP', kind: 'string', fallback: { up: '127.0.0.1:8440', roles: '0.0.0.0:8440' }, applies: ['up', 'api'], help: 'REST API and console HOST:PORT' },
  { key: 'grpc', flag: 'grpc', env: 'VIGIL_GRPC', kind: 'string', fallback: { up: '127.0.0.1:8443', roles: '0.0.0.0:8443' }, applies: ['up', 'ingest'], help: 'agent endpoint HOST:PORT (mutual TLS)' },
  { key: 'ruleDirs', flag: 'rules', aliases: ['rule-dirs'], env: 'VIGIL_RULE_DIRS', kind: 'string-list', fallback: '', applies: ['up', ...WORKER_API], help: 'Sigma rule directories loaded besides the built-ins (repeatable or comma-separated; the same on every process), e.g. a SigmaHQ checkout\'s rules/' },
  { key: 'placeholders', flag: 'placeholders', env: 'VIGIL_PLACEHOLDERS', kind: 'optional-string', fallback: '', applies: ['up', ...WORKER_API], help: 'YAML map of values for rules that use %placeholders%' },
  { key: 'gtfobinsDir', flag: 'gtfobins', env: 'VIGIL_GTFOBINS', kind: 'optional-string', fallback: '', applies: ['up', 'worker'], help: 'a GTFOBins checkout (or its _gtfobins directory), read at start: the functions it lists for an executable are put on its process events (threat.gtfobins); GPL-3.0 data, kept outside Vigil' },
  { key: 'aiServicesFile', flag: 'ai-services', env: 'VIGIL_AI_SERVICES', kind: 'optional-string', fallback: '', applies: ['up', ...WORKER_API], help: 'the generative-AI service catalogue (JSON, the shape of config/ai-services.json, which is the default): whose use is recorded, or alerted on per the tenant\'s policy' },
  { key: 'retentionDays', flag: 'retention-days', env: 'VIGIL_RETENTION_DAYS', kind: 'int', fallback: '90', applies: ['up', 'worker'], help: 'days events are kept (the event store\'s TTL)' },
  { key: 'pipelineBatchWaitMs', flag: 'pipeline-batch-wait-ms', aliases: ['worker-batch-wait-ms'], env: 'VIGIL_PIPELINE_BATCH_WAIT_MS', kind: 'int', fallback: { up: '1000', roles: '250' }, min: 0, max: 10_000, applies: ['up', 'worker'], help: 'how long events may wait to be stored and detected in one batch (fewer, larger inserts cost the event store less CPU)' },
  { key: 'irTwoPerson', flag: 'ir-two-person', env: 'VIGIL_IR_TWO_PERSON', kind: 'boolean', fallback: '0', applies: ['up', 'api'], help: 'isolating a host needs a second principal\'s approval' },
  { key: 'irExpirySeconds', flag: 'ir-expiry', env: 'VIGIL_IR_EXPIRY_S', kind: 'int', fallback: '86400', applies: ['up', 'api'], help: 'response actions not done within this many seconds expire' },
  { key: 'autoResponse', flag: 'auto-response', env: 'VIGIL_AUTO_RESPONSE', kind: 'boolean', fallback: '0', applies: ['up', 'api'], help: 'run the responses rules name (kill_process, collect_triage) for high and critical alerts, at most 5 per host and hour (per API process)' },
  { key: 'autoResponseTenants', flag: 'auto-response-tenants', env: 'VIGIL_AUTO_RESPONSE_TENANTS', kind: 'optional-string', fallback: '', applies: ['up', 'api'], help: 'tenants in which the responses of rule files (built-ins, --rules) run: \'*\' or ids separated by commas (default: default); an uploaded rule responds only in its writer\'s tenant' },
  { key: 'allowPrivateAlertSinks', flag: 'allow-private-alert-sinks', env: 'VIGIL_ALLOW_PRIVATE_ALERT_SINKS', kind: 'boolean', fallback: '0', applies: ['up', 'api'], help: 'alert sinks and threat-intelligence feed URLs may target loopback, private, link-local and metadata addresses (SSRF guard off)' },
  { key: 'alertOutboxRetentionDays', flag: 'alert-outbox-retention-days', env: 'VIGIL_ALERT_OUTBOX_RETENTION_DAYS', kind: 'int', fallback: '7', min: 1, max: 3650, applies: ['up', 'api'], help: 'days delivered and suppressed alert deliveries are kept in the outbox (then deleted, in batches, by one API process at a time)' },
  { key: 'alertDeadLetterRetentionDays', flag: 'alert-dead-letter-retention-days', env: 'VIGIL_ALERT_DEAD_LETTER_RETENTION_DAYS', kind: 'int', fallback: '30', min: 1, max: 3650, applies: ['up', 'api'], help: 'days dead-lettered alert deliveries are kept for replay (then deleted)' },
  { key: 'rateLimitUser', flag: 'rate-limit-user', env: 'VIGIL_RATE_LIMIT_USER', kind: 'optional-int', fallback: '', min: 1, applies: ['up', 'api'], help: 'API requests per minute per user or key, burst 2× (default 1000; shared across API processes with --redis)' },
  { key: 'rateLimitTenant', flag: 'rate-limit-tenant', env: 'VIGIL_RATE_LIMIT_TENANT', kind: 'optional-int', fallback: '', min: 1, applies: ['up', 'api'], help: 'API requests per minute per tenant, burst 2× (default 10000; shared across API processes with --redis)' },
  // ---- embedded only ----
  { key: 'dataDir', flag: 'data-dir', env: 'VIGIL_DATA_DIR', kind: 'string', fallback: 'data', applies: ['up'], help: 'where everything is kept: CA, databases, events, bus log, spool, keys (roles: --pki-dir and their servers)' },
  { key: 'noAgent', flag: 'no-agent', env: 'VIGIL_NO_AGENT', kind: 'boolean', fallback: '0', applies: ['up'], help: 'start only the server, no local agent' },
  { key: 'sensor', flag: 'sensor', env: 'VIGIL_SENSOR', kind: 'string', fallback: 'auto', choices: ['auto', 'ebpf', 'proc'], applies: ['up'], help: 'the local agent\'s sensor: eBPF when possible (auto), ebpf or proc' },
  { key: 'busSyncMs', flag: 'bus-sync-ms', env: 'VIGIL_BUS_SYNC_MS', kind: 'int', fallback: '0', min: 0, max: 60_000, applies: ['up'], help: '0: an agent\'s batch is acknowledged once fdatasync\'ed on the local bus log; MS > 0: once written to it, fdatasync\'ed within MS ms, as JetStream does (roles: JetStream\'s own sync)' },
  // ---- scale-out only: the shared servers and the roles' topology ----
  { key: 'nats', flag: 'nats', env: 'VIGIL_NATS_URL', kind: 'string', fallback: 'nats://127.0.0.1:4222', applies: ROLES, help: 'NATS servers, comma-separated' },
  { key: 'busNamespace', flag: 'bus-namespace', env: 'VIGIL_BUS_NAMESPACE', kind: 'string', fallback: '', applies: ROLES, help: 'prefix of subjects and streams (one NATS, several deployments)' },
  { key: 'busMaxBytes', flag: 'bus-max-bytes', env: 'VIGIL_BUS_MAX_BYTES', kind: 'int', fallback: String(DEFAULT_EVENTS_MAX_BYTES), min: 2 ** 20, applies: ROLES, help: 'disk bound of the events stream\'s backlog in bytes (at it, ingest stops acknowledging; agents keep spooling); the other streams get fixed shares, ≈ 1.4 × this reserved in JetStream in all' },
  { key: 'busReplicas', flag: 'bus-replicas', env: 'VIGIL_BUS_REPLICAS', kind: 'optional-int', fallback: '', min: 1, max: 5, applies: ROLES, help: 'replicas of the JetStream streams a role creates (1–5; default 3 on a NATS cluster of three or more servers, else 1); an existing stream keeps its own, with a warning' },
  { key: 'eventPartitions', flag: 'event-partitions', env: 'VIGIL_EVENT_PARTITIONS', kind: 'int', fallback: '1', applies: ['ingest', 'worker'], help: 'host partitions of the events stream (same on every process)' },
  { key: 'ownedPartitions', flag: 'partitions', env: 'VIGIL_PARTITIONS', kind: 'int-list', fallback: '', applies: ['worker'], help: 'the partitions this worker consumes, e.g. 0,2 (default all)' },
  { key: 'workerCount', flag: 'worker-count', env: 'VIGIL_WORKER_COUNT', kind: 'optional-int', fallback: '', applies: ['worker'], help: 'how many workers share the partitions (with --worker-index, instead of --partitions)' },
  { key: 'workerIndex', flag: 'worker-index', env: 'VIGIL_WORKER_INDEX', kind: 'optional-int', fallback: '', applies: ['worker'], help: 'this worker\'s index from 0 (e.g. the StatefulSet pod index); owns partitions p with p mod count = index' },
  { key: 'partitionLeaseMs', flag: 'partition-lease-ms', env: 'VIGIL_PARTITION_LEASE_MS', kind: 'int', fallback: '15000', min: 1000, applies: ['worker'], help: 'lease time of a worker\'s partitions; a dead worker\'s are taken over after it (unless --partitions or --worker-count pin them)' },
  { key: 'clickhouse', flag: 'clickhouse', env: 'VIGIL_CLICKHOUSE_URL', kind: 'string', fallback: 'http://127.0.0.1:8123', applies: WORKER_API, help: 'ClickHouse HTTP endpoint' },
  { key: 'clickhouseUser', flag: 'clickhouse-user', env: 'VIGIL_CLICKHOUSE_USER', kind: 'string', fallback: 'default', applies: WORKER_API, help: 'ClickHouse user' },
  { key: 'clickhousePassword', flag: 'clickhouse-password', env: 'VIGIL_CLICKHOUSE_PASSWORD', kind: 'string', fallback: '', applies: WORKER_API, help: 'ClickHouse password (prefer the variable)' },
  { key: 'clickhouseDatabase', flag: 'clickhouse-database', env: 'VIGIL_CLICKHOUSE_DATABASE', kind: 'string', fallback: 'default', applies: WORKER_API, help: 'ClickHouse database' },
  { key: 'postgres', flag: 'postgres', env: 'VIGIL_POSTGRES_URL', kind: 'string', fallback: 'postgres://postgres@127.0.0.1:5432/vigil', applies: ROLES, help: 'PostgreSQL connection URL' },
  { key: 'health', flag: 'health', env: 'VIGIL_HEALTH', kind: 'string', fallback: '0.0.0.0:8441', applies: ROLES, help: '/healthz, /readyz and /metrics HOST:PORT (embedded: on the API port)' },
  { key: 'metricsToken', flag: 'metrics-token', env: 'VIGIL_METRICS_TOKEN', kind: 'optional-string', fallback: '', applies: ROLES, help: 'the Bearer token /metrics requires, 16+ characters (prefer the variable; embedded: <data-dir>/metrics-token); without it /metrics refuses every scrape' },
  { key: 'pkiDir', flag: 'pki-dir', env: 'VIGIL_PKI_DIR', kind: 'string', fallback: '/var/lib/vigil/pki', applies: ['ingest', 'api'], help: 'the agent CA, shared by all ingest processes (embedded: <data-dir>/pki)' },
  { key: 'agentEndpoint', flag: 'agent-endpoint', env: 'VIGIL_AGENT_ENDPOINT', kind: 'optional-string', fallback: '', applies: ['api'], help: 'the ingest endpoint HOST:PORT as agents dial it, shown with new enrolment tokens (default: this process\'s ingest role; the CA from <pki-dir>/ca.pem)' },
  { key: 'ackWaitMs', flag: 'ack-wait-ms', env: 'VIGIL_ACK_WAIT_MS', kind: 'int', fallback: '30000', applies: ['worker'], help: 'redelivery delay of a batch a dead worker held' },
  { key: 'redis', flag: 'redis', env: 'VIGIL_REDIS_URL', kind: 'optional-string', fallback: '', applies: ['api'], help: 'Redis URL for rate limits shared by every API process (default: per process)' },
  { key: 'workerBatch', flag: 'worker-batch', env: 'VIGIL_WORKER_BATCH', kind: 'int', fallback: '256', applies: ['worker'], help: 'most bus messages per event-store insert' },
  { key: 'workerIdleScheduling', flag: 'worker-idle-scheduling', env: 'VIGIL_WORKER_IDLE_SCHEDULING', kind: 'boolean', fallback: '1', applies: ['worker'], help: 'in a process without ingest: run under SCHED_IDLE, only on CPU time nothing else wants (on a shared host ingest and NATS answer agents first)' },
  { key: 'workerNice', flag: 'worker-nice', env: 'VIGIL_WORKER_NICE', kind: 'int', fallback: '5', min: 0, max: 19, applies: ['worker'], help: 'in a process without ingest: its CPU nice value (what counts without idle scheduling)' },
];

const BOOLEAN_VALUES = new Set(['1', '0', 'true', 'false']);

const settingsOf = (d: Deployment): Setting[] => SETTINGS.filter((s) => s.applies.some((p) => (d === 'up' ? p === 'up' : p !== 'up')));

const fallbackOf = (s: Setting, d: Deployment): string => (typeof s.fallback === 'string' ? s.fallback : s.fallback[d]);

function integer(s: Setting, raw: string): number {
  const min = s.min ?? 1;
  const n = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || n < min || (s.max !== undefined && n > s.max)) {
    throw new Error(`${s.flag}: expected an integer ${s.max !== undefined ? `from ${min} to ${s.max}` : `of at least ${min}`}, got '${raw}'`);
  }
  return n;
}

function convert(s: Setting, raw: string): unknown {
  switch (s.kind) {
    case 'string':
      if (s.choices && !s.choices.includes(raw)) throw new Error(`${s.flag}: expected one of ${s.choices.join(', ')}, got '${raw}'`);
      return raw;
    case 'optional-string': return raw.trim() === '' ? undefined : raw;
    case 'string-list': return raw.split(',').map((x) => x.trim()).filter((x) => x !== '');
    case 'boolean': {
      const v = raw.trim().toLowerCase();
      if (!BOOLEAN_VALUES.has(v)) throw new Error(`${s.flag}: expected 1, 0, true or false, got '${raw}'`);
      return v === '1' || v === 'true';
    }
    case 'int': return integer(s, raw);
    case 'optional-int': return raw.trim() === '' ? undefined : integer({ ...s, min: s.min ?? 0 }, raw);
    case 'int-list': {
      if (raw.trim() === '') return undefined;
      const list = raw.split(',').map((x) => x.trim());
      if (!list.every((x) => /^\d+$/.test(x))) throw new Error(`${s.flag}: expected integers separated by commas, got '${raw}'`);
      return list.map(Number);
    }
  }
}

function readConfigFile(path: string, known: Setting[]): Record<string, string> {
  const doc = parseYaml(readFileSync(path, 'utf8')) as unknown;
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${path}: expected a mapping of settings`);
  const byName = new Map(known.flatMap((s) => [s.flag, ...(s.aliases ?? [])].map((n) => [n, s.flag] as const)));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(doc)) {
    const flag = byName.get(k);
    if (!flag) throw new Error(`${path}: unknown setting '${k}'`);
    out[flag] = Array.isArray(v) ? v.join(',') : String(v);
  }
  return out;
}

/** Bare boolean flags (`--auto-response`) and their spelled-out forms (`--auto-response 0`) to `--flag=value`. */
function normaliseBooleans(args: string[], booleans: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--') || a.includes('=') || !booleans.has(a.slice(2))) { out.push(a); continue; }
    const next = args[i + 1];
    if (next !== undefined && BOOLEAN_VALUES.has(next.toLowerCase())) { out.push(`${a}=${next}`); i++; } else out.push(`${a}=1`);
  }
  return out;
}

/** The flags given, each setting's raw value joined (repeated lists, aliases). */
function flagValues(args: string[], known: Setting[]): { values: Map<string, string>; help: boolean; config?: string } {
  const names = known.flatMap((s) => [s.flag, ...(s.aliases ?? [])]);
  const booleans = new Set(known.filter((s) => s.kind === 'boolean').flatMap((s) => [s.flag, ...(s.aliases ?? [])]));
  const options = Object.fromEntries(names.map((n) => [n, { type: 'string' as const, multiple: true }]));
  const { values } = parseArgs({ args: normaliseBooleans(args, booleans), options: { ...options, config: { type: 'string' }, help: { type: 'boolean' } }, strict: true });
  const raw = values as Record<string, string[] | string | boolean | undefined>;
  const out = new Map<string, string>();
  for (const s of known) {
    const given = [s.flag, ...(s.aliases ?? [])].flatMap((n) => (raw[n] as string[] | undefined) ?? []);
    if (!given.length) continue;
    out.set(s.flag, s.kind === 'string-list' || s.kind === 'int-list' ? given.join(',') : given[given.length - 1]!);
  }
  return { values: out, help: raw.help === true, config: raw.config as string | undefined };
}

/**
 * The settings of one deployment from defaults, config file, environment and flags: every setting that applies to
 * it (for the roles: to any role), keyed as in AllSettings. Throws with the setting's flag on a bad value.
 */
export function loadSettings(d: Deployment, args: string[], env: NodeJS.ProcessEnv = process.env): Partial<AllSettings> | 'help' {
  const known = settingsOf(d);
  const flags = flagValues(args, known);
  if (flags.help) return 'help';
  const configPath = flags.config ?? env.VIGIL_CONFIG;
  const file = configPath ? readConfigFile(configPath, known) : {};
  const out: Partial<Record<keyof AllSettings, unknown>> = {};
  for (const s of known) out[s.key] = convert(s, flags.values.get(s.flag) ?? env[s.env] ?? file[s.flag] ?? fallbackOf(s, d));
  return out as Partial<AllSettings>;
}

/** `--help` text: every setting of the deployment with its variable and default. */
export function settingsUsage(command: string, d: Deployment): string {
  return [`usage: vigil ${command} [--config FILE] [--SETTING VALUE …]`, '',
    ...settingsOf(d).map((s) => `  --${s.flag.padEnd(26)} ${s.help} (env ${s.env}; default ${fallbackOf(s, d) || 'none'}${d === 'roles' ? `; ${s.applies.filter((p) => p !== 'up').join(', ')}` : ''})`)].join('\n');
}

/** The README's configuration table (markdown), one row per setting. */
export function settingsTable(): string {
  const cell = (v: string) => v.replaceAll('|', '\\|');
  const dflt = (s: Setting) => {
    if (typeof s.fallback === 'string') return s.fallback ? `\`${s.fallback}\`` : '';
    return `up \`${s.fallback.up}\`, roles \`${s.fallback.roles}\``;
  };
  const flag = (s: Setting) => `\`--${s.flag}\`${s.aliases?.length ? ` (${s.aliases.map((a) => `\`--${a}\``).join(', ')})` : ''}`;
  return ['| flag | env | default | applies to | meaning |', '| --- | --- | --- | --- | --- |',
    ...SETTINGS.map((s) => `| ${flag(s)} | \`${s.env}\` | ${dflt(s)} | ${s.applies.join(', ')} | ${cell(s.help)} |`),
    '| | `VIGIL_LOG_LEVEL` | `info` | up, ingest, worker, api | log level (JSON logs on stderr; secrets redacted) |'].join('\n');
}
