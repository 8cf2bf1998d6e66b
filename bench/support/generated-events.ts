// Events made up inside the event store for the benchmarks on large stores (bench:investigation, bench:storage):
// one INSERT … SELECT over numbers(), so 10 or 100 million events cost seconds to minutes, not an ingest run.
// The population: process p (of events / 10) runs on host p mod hosts as process i = p div hosts of that host;
// its parent is process i div 4 of the same host (trees of fan-out 4, ancestors ~10 deep; each start carries its
// ancestors' entity ids, `process.ancestry`, as the pipeline records them: src/tree/ancestry.ts). Each process has 10
// events (start, file writes, connections, file creations, end) spread over the span. The events are shaped
// like the agent's (src/agent/events.ts): the same fields, UUIDv7-like event ids, 128-bit entity ids
// (32 hex characters, hashes: as incompressible as the agent's random ones), varied command lines, so that
// their size on disk against their JSON is realistic. The hosts are enrolled in the metadata store, and
// alerts (bench/support/generated-alerts.ts) are written about the processes.

import { join } from 'node:path';
import { SqliteAlertStore } from '../../src/stores/alerts/sqlite.ts';
import { ChdbEngine, engineSettings } from '../../src/stores/events/chdb-engine.ts';
import { ClickHouseEventStore } from '../../src/stores/events/clickhouse-store.ts';
import { SqliteMetadataStore } from '../../src/stores/metadata/sqlite.ts';
import { benchHostId, ENTITY_MIX, generatedAlerts, type AlertPopulation } from './generated-alerts.ts';

export const EVENTS_PER_PROCESS = 10;
/** The engine's memory bound while generating (bytes). */
const GENERATION_MEMORY = 4 * 1024 ** 3;

export interface EventPopulation { tenant: string; hosts: number; events: number; startMs: number; spanMs: number }

/** Aliases `<alias>` (the entity id of process i of host h, as benchEntityId makes it) and its parts, over the expressions h and i. */
function entityIdSql(alias: string, h: string, i: string): string {
  const x = (salt: number) => `${alias}_base * toUInt64(${ENTITY_MIX}) + ${salt} AS ${alias}_${salt}`;
  const hex = (salt: number) => `leftPad(lower(hex(bitXor(${alias}_${salt}, bitShiftRight(${alias}_${salt}, 29)))), 16, '0')`;
  return `bitShiftLeft(toUInt64(${h}), 40) + toUInt64(${i}) AS ${alias}_base, ${x(7)}, ${x(13)}, concat(${hex(7)}, ${hex(13)}) AS ${alias}`;
}

/** The entity id of process `i` of host `h` as one expression (for a lambda; entityIdSql's `alias` without its parts). */
function entityIdExpr(h: string, i: string): string {
  const hex = (salt: number) => `leftPad(lower(hex(bitXor((bitShiftLeft(toUInt64(${h}), 40) + toUInt64(${i})) * toUInt64(${ENTITY_MIX}) + ${salt},
    bitShiftRight((bitShiftLeft(toUInt64(${h}), 40) + toUInt64(${i})) * toUInt64(${ENTITY_MIX}) + ${salt}, 29)))), 16, '0')`;
  return `concat(${hex(7)}, ${hex(13)})`;
}

const NAMES = ['bash', 'python3', 'curl', 'tar', 'sshd', 'node', 'cron', 'sh'];
const ARGS = [
  `'-c', concat('cd /srv/app && ./deploy.sh --release r', toString(i % 977))`,
  `'/opt/app/worker.py', '--job', toString(i), '--queue', concat('q', toString(i % 13))`,
  `'-fsSL', concat('https://repo', toString(i % 97), '.example.com/pkg/', toString(i), '.tar.gz'), '-o', concat('/tmp/pkg-', toString(i))`,
  `'-xzf', concat('/var/backups/archive-', toString(i % 365), '.tar.gz'), '-C', '/var/restore'`,
  `'-D', '-R', concat('-oLogLevel=', arrayElement(['INFO', 'VERBOSE'], (i % 2) + 1))`,
  `'/srv/api/server.js', '--port', toString(3000 + i % 50), '--env', 'production'`,
  `'-f', '-P', concat('/etc/cron.d/job-', toString(i % 61))`,
  `'-c', concat('find /var/log -name ''*.gz'' -mtime +', toString(i % 30), ' -delete')`,
];

/** The INSERT … SELECT that makes the population's events. */
export function generateEventsSql(o: EventPopulation): string {
  const processes = Math.floor(o.events / EVENTS_PER_PROCESS);
  const step = Math.floor(o.spanMs / Math.max(1, processes));
  const startOf = `toDateTime64(${o.startMs / 1000}, 3, 'UTC') + toIntervalMillisecond(p * ${step})`;
  const iso = (t: string) => `replaceOne(toString(${t}), ' ', 'T'), 'Z'`;
  return `INSERT INTO telemetry_events (tenant_id, host_id, timestamp, event_id, event_type, ingested, raw, event_category, hostname,
      process_entity_id, process_pid, process_ppid, process_name, process_executable, process_command_line, process_parent_entity_id,
      process_parent_executable, user_name, user_id, file_path, source_ip, source_port, destination_ip, destination_port, mitre)
    SELECT '${o.tenant}', host, ts, eid, type, ts + toIntervalMillisecond(40 + number % 300), raw, category, hostname, ent, pid, ppid, name, exe, cmd, pent, pexe,
      user, uid, fpath, '', 0, dip, dport, []
    FROM (
      SELECT number, intDiv(number, ${EVENTS_PER_PROCESS}) AS p, number % ${EVENTS_PER_PROCESS} AS k,
        p % ${o.hosts} AS h, intDiv(p, ${o.hosts}) AS i,
        concat('agt-bench', leftPad(toString(h), 4, '0')) AS host, concat('bench-', toString(h)) AS hostname,
        ${startOf} AS start, start + toIntervalMillisecond(k * 7 + (sipHash64(number) % 5)) AS ts,
        lower(hex(sipHash128(number))) AS rnd, leftPad(lower(hex(toUnixTimestamp64Milli(ts))), 12, '0') AS th,
        concat(substring(th, 1, 8), '-', substring(th, 9, 4), '-7', substring(rnd, 1, 3), '-8', substring(rnd, 4, 3), '-', substring(rnd, 7, 12)) AS eid,
        multiIf(k = 0, 'process_start', k = ${EVENTS_PER_PROCESS - 1}, 'process_end', k < 4, 'file_write', k < 6, 'network_connection', 'file_create') AS type,
        multiIf(k = 0 OR k = ${EVENTS_PER_PROCESS - 1}, 'process', k < 4 OR k >= 6, 'file', 'network') AS category,
        multiIf(k = 0, 'exec', k = ${EVENTS_PER_PROCESS - 1}, 'exit', k < 4, 'write', k < 6, 'connect', 'create') AS action,
        ${entityIdSql('ent', 'h', 'i')}, ${entityIdSql('pent', 'h', 'intDiv(i, 4)')},
        arrayMap(j -> bitShiftRight(i, 2 * j), range(1, if(i = 0, 1, intDiv(toUInt32(floor(log2(i))), 2) + 2))) AS above,
        if(k = 0 AND length(above) > 0, concat(',"ancestry":', toJSONString(arrayMap(x -> ${entityIdExpr('h', 'x')}, above))), '') AS ancestry,
        toUInt32(i % 4000000 + 2) AS pid, toUInt32(intDiv(i, 4) % 4000000 + 2) AS ppid,
        arrayElement([${NAMES.map((n) => `'${n}'`).join(', ')}], (i % 8) + 1) AS name,
        concat(if(name = 'sshd', '/usr/sbin/', '/usr/bin/'), name) AS exe,
        arrayElement([${ARGS.map((a) => `[${a}]`).join(', ')}], (i % 8) + 1) AS argv, concat(name, ' ', arrayStringConcat(argv, ' ')) AS cmd,
        concat('/usr/bin/', arrayElement([${NAMES.map((n) => `'${n}'`).join(', ')}], (intDiv(i, 4) % 8) + 1)) AS pexe,
        toString(1000 + i % 50) AS uid, concat('user', toString(i % 50)) AS user,
        if(category = 'file', concat('/var/tmp/job-', toString(i), '/out-', toString(k), '.log'), '') AS fpath,
        if(category = 'network', concat('10.', toString(i % 250), '.', toString(k), '.7'), '') AS dip, toUInt16(if(category = 'network', 443, 0)) AS dport,
        concat('{"@timestamp":"', ${iso('ts')}, '","agent":{"id":"', host, '","hostname":"', hostname, '","tenant_id":"${o.tenant}","version":"0.1.0"},',
          '"event":{"id":"', eid, '","type":"', type, '","category":"', category, '","action":"', action, '","sequence":', toString(i * ${EVENTS_PER_PROCESS} + k), '},',
          '"host":{"id":"', host, '","hostname":"', hostname, '","os":{"platform":"linux","kernel":"6.8.0-45-generic"}},',
          '"process":{"pid":', toString(pid), ',"ppid":', toString(ppid), ',"entity_id":"', ent, '","executable":"', exe, '","name":"', name,
          '","args":', toJSONString(arrayConcat([name], argv)), ',"command_line":', toJSONString(cmd), ',"working_directory":"/home/', user, '",',
          '"start":"', ${iso('start')}, '",', if(k = ${EVENTS_PER_PROCESS - 1}, concat('"exit_code":0,"end":"', ${iso('ts')}, '",'), ''),
          '"parent":{"pid":', toString(ppid), ',"entity_id":"', pent, '","executable":"', pexe, '"}', ancestry, '},',
          '"user":{"id":"', uid, '","name":"', user, '","effective":{"id":"', uid, '"},"group":{"id":"', uid, '"}}',
          if(fpath != '', concat(',"file":{"path":"', fpath, '"}'), ''),
          if(dip != '', concat(',"source":{"ip":"10.0.0.', toString(h % 250), '","port":', toString(32768 + number % 28000), '},',
            '"destination":{"ip":"', dip, '","port":443},"network":{"transport":"tcp","direction":"outbound"}'), ''),
          '}') AS raw
      FROM numbers(${o.events})
    )
    SETTINGS output_format_json_escape_forward_slashes = 0`;
}

/**
 * Makes the population in data directory `dir` as `vigil up` lays it out: the hosts in metadata.db, the events in
 * events/ (returns the seconds the INSERT … SELECT took) and `alerts` alerts in detection.db.
 */
export async function populateStore(dir: string, o: EventPopulation, alerts: number): Promise<{ generateSeconds: number }> {
  const metadata = new SqliteMetadataStore(join(dir, 'metadata.db'));
  await metadata.migrate();
  await metadata.ensureTenant(o.tenant, 'Default tenant');
  for (let h = 0; h < o.hosts; h++) {
    await metadata.upsertHost({ id: benchHostId(h), tenantId: o.tenant, hostname: `bench-${h}`, os: 'linux', kernel: '6.8', agentVersion: '0.1.0',
      certSerial: `s${h}`, certNotAfter: Date.now() + 86_400_000, enrolledAt: o.startMs });
  }
  await metadata.close();

  // The embedded engine's memory bound (256 MiB) is for serving; one INSERT … SELECT of millions of rows needs more.
  const engine = new ChdbEngine(join(dir, 'events'), { settings: engineSettings(`max_server_memory_usage=${GENERATION_MEMORY}`) });
  const store = new ClickHouseEventStore(engine);
  await store.init();
  const t0 = performance.now();
  await engine.query(generateEventsSql(o), {}, { timeoutMs: 6 * 3_600_000 });
  const generateSeconds = (performance.now() - t0) / 1000;
  await engine.close();

  const alertStore = new SqliteAlertStore(join(dir, 'detection.db'));
  await alertStore.migrate();
  const population: AlertPopulation = { tenant: o.tenant, hosts: o.hosts, processes: Math.floor(o.events / EVENTS_PER_PROCESS), startMs: o.startMs, spanMs: o.spanMs };
  for (let a = 0; a < alerts; a += 1000) await alertStore.write(generatedAlerts(population, a, Math.min(alerts, a + 1000)));
  await alertStore.close();
  return { generateSeconds };
}
