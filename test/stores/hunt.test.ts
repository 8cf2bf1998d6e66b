// Hunts on the event store, on both engines: in-process chdb and a ClickHouse server over HTTP (the test
// fixture server in a child process). What a hunt may name (CTEs named like a table, server-introspection
// functions: refused by an allow-list; ordinary hunt SQL: runs), what its errors tell (no engine version, no
// internals), the limits the engine enforces (time, rows read, memory; max_threads = 1 seen on the running
// query), and, on chdb, that hunts run on a lane of their own: another tenant's searches stay fast while three
// heavy hunts run. The hunt gate (per-tenant and global bounds, short queue, Retry-After) is tested on its own.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VigilEvent } from '../../src/schema/event.ts';
import { ChdbEngine } from '../../src/stores/events/chdb-engine.ts';
import { ClickHouseHttpEngine } from '../../src/stores/events/clickhouse-http.ts';
import { ClickHouseEventStore } from '../../src/stores/events/clickhouse-store.ts';
import type { SqlEngine } from '../../src/stores/events/engine.ts';
import { DEFAULT_HUNT_LIMITS, HuntGate, HuntRefusal, publicMessage, refusalOf, type HuntLimits } from '../../src/stores/events/hunt.ts';
import { spawnClickHouseFixture } from '../fixtures/clickhouse-http-server.ts';

const A = 'tenant-a';
const B = 'tenant-b';
const NOW = Date.now();

function event(tenant: string, i: number): VigilEvent {
  const t = new Date(NOW - i * 1000).toISOString();
  return {
    '@timestamp': t,
    agent: { id: `${tenant}-host`, hostname: 'h', tenant_id: tenant },
    event: { id: `${tenant}-${i}`, type: 'process_start', ingested: t },
    process: { pid: 100 + i, ppid: 1, entity_id: `${tenant}-ent-${i}`, executable: '/usr/bin/curl', command_line: `curl http://example.org/${i}`, start: t },
  };
}

/** A triple cross join over A's events with a hash per row: runs far longer than any hunt limit here. */
const HEAVY = 'SELECT count() FROM telemetry_events AS a, telemetry_events AS b, telemetry_events AS c WHERE cityHash64(a.event_id, b.event_id, c.event_id) % 7 = 1';

const limits = (o: Partial<HuntLimits> = {}): HuntLimits => ({ ...DEFAULT_HUNT_LIMITS, maxExecutionSeconds: 3, ...o });

async function refusal(p: Promise<unknown>): Promise<HuntRefusal> {
  try {
    await p;
  } catch (err) {
    if (err instanceof HuntRefusal) return err;
    throw err;
  }
  assert.fail('the hunt was not refused');
}

const ENGINE_INTERNALS = [/DB::Exception/, /Code: \d+/, /\(version /i, /in scope/i, /additional_table_filters/, /tenant_id = /, /While executing/i, /\([A-Z_]{4,}\)\s*$/];

interface Engine { name: string; open(dir: string): Promise<{ engine: SqlEngine; dispose(): Promise<void> }>; inProcess: boolean }

const engines: Engine[] = [
  { name: 'chdb (in-process)', inProcess: true, async open(dir) {
    const engine = new ChdbEngine(dir, { huntConnections: 3 });
    return { engine, dispose: () => engine.close() };
  } },
  { name: 'ClickHouse HTTP (fixture server)', inProcess: false, async open(dir) {
    const server = await spawnClickHouseFixture(dir);
    const engine = new ClickHouseHttpEngine({ url: server.url });
    return { engine, dispose: async () => { await engine.close(); await server.stop(); } };
  } },
];

for (const impl of engines) {
  describe(`hunts: ${impl.name}`, () => {
    let dir: string;
    let engine: SqlEngine;
    let store: ClickHouseEventStore;
    let dispose: () => Promise<void>;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'vigil-hunt-'));
      ({ engine, dispose } = await impl.open(dir));
      store = new ClickHouseEventStore(engine);
      await store.init();
      await store.insert(Array.from({ length: 2000 }, (_, i) => event(A, i)));
      await store.insert(Array.from({ length: 50 }, (_, i) => event(B, i)));
    });
    after(async () => {
      await dispose();
      rmSync(dir, { recursive: true, force: true });
    });

    test('a CTE named like a table or database is refused; other CTE names are read', async () => {
      for (const sql of [
        'WITH events AS (SELECT 1 AS x) SELECT * FROM events', // system.events
        'WITH events AS (SELECT event_id FROM telemetry_events) SELECT count() FROM events',
        'WITH telemetry_events AS (SELECT 1 AS x) SELECT * FROM telemetry_events',
        'WITH `process_nodes` AS (SELECT 1 AS x) SELECT * FROM process_nodes',
        'WITH alerts AS (SELECT 1 AS x) SELECT * FROM alerts', // a hunt table, even where it does not exist
        'WITH mine AS (SELECT 1), Tables AS (SELECT 2) SELECT * FROM mine', // system.tables, any case
        'WITH RECURSIVE one AS (SELECT 1 AS n) SELECT * FROM one', // system.one
        'WITH information_schema AS (SELECT 1) SELECT 1',
      ]) {
        const r = await refusal(store.hunt(A, sql, limits()));
        assert.equal(r.code, 'table_not_allowed', sql);
        assert.match(r.message, /a CTE may not take the name of a table or database/, sql);
      }
      const ok = await store.hunt(A, 'WITH mine AS (SELECT host_id FROM telemetry_events), seen AS (SELECT DISTINCT host_id FROM mine) SELECT count() FROM mine JOIN seen USING host_id', limits());
      assert.equal(Number(ok.rows[0][0]), 2000);
    });

    test('server-introspection, dictionary, file and other non-allowed functions are refused', async () => {
      for (const fn of ['version()', 'hostName()', 'hostname()', 'FQDN()', 'currentUser()', 'user()', 'session_user()', 'uptime()',
        "getSetting('max_threads')", "getMacro('replica')", 'serverUUID()', 'currentDatabase()', 'DATABASE()', 'timezone()',
        'serverTimezone()', 'buildId()', 'revision()', "getServerPort('tcp_port')", 'tcpPort()', 'getOSKernelVersion()', 'queryID()',
        "dictGet('d', 'a', toUInt64(1))", "dictGetString('d', 'a', toUInt64(1))", "dictHas('d', toUInt64(1))", "joinGet('j', 'v', 1)",
        "file('/etc/passwd')", "hasColumnInTable('system', 'one', 'dummy')", 'filesystemAvailable()', "demangle('x')", 'tid()',
        'blockSize()', 'throwIf(0)', "aiGenerate('x')", 'regionToName(toUInt32(1))', 'chdb()', 'currentRoles()', 'zookeeperSessionUptime()']) {
        const r = await refusal(store.hunt(A, `SELECT ${fn} AS x FROM telemetry_events LIMIT 1`, limits()));
        assert.equal(r.code, 'function_not_allowed', fn);
      }
      for (const sql of ["SELECT * FROM file('/etc/passwd', 'LineAsString')", 'SELECT * FROM numbers(10)', "SELECT * FROM url('http://127.0.0.1:1/', 'CSV', 'a String')"]) {
        assert.equal((await refusal(store.hunt(A, sql, limits()))).code, 'table_function', sql);
      }
      for (const sql of ['SELECT * FROM system.events', 'SELECT name FROM system.functions', 'SELECT * FROM INFORMATION_SCHEMA.TABLES']) {
        assert.equal((await refusal(store.hunt(A, sql, limits()))).code, 'table_not_allowed', sql);
      }
    });

    test('ordinary hunt SQL runs: aggregates with combinators, lambdas, window functions, JSON, CASE, intervals, joins', async () => {
      for (const sql of [
        "SELECT count() AS n, countIf(event_type = 'process_start'), uniqExact(host_id), uniqExactIf(host_id, event_type != ''), sumArray([1, 2]) FROM telemetry_events",
        "SELECT host_id, process_executable, count() AS n FROM telemetry_events WHERE timestamp > now() - INTERVAL 1 DAY AND positionCaseInsensitive(process_command_line, 'curl') > 0 GROUP BY host_id, process_executable ORDER BY n DESC LIMIT 10",
        "SELECT JSONExtractString(raw, 'process', 'executable') AS exe, lower(exe), arrayMap(x -> upper(x), splitByChar('/', exe)) FROM telemetry_events LIMIT 3",
        'SELECT event_id, row_number() OVER (PARTITION BY host_id ORDER BY timestamp) AS rn, lagInFrame(event_id) OVER (ORDER BY timestamp) FROM telemetry_events LIMIT 5',
        "SELECT CASE WHEN event_type = 'a' THEN 1 WHEN event_type LIKE 'p%' THEN 2 ELSE 3 END, CASE event_type WHEN 'x' THEN 1 END, toStartOfHour(timestamp), formatDateTime(timestamp, '%F'), event_id::String, CAST(1 AS String), if(event_id ILIKE '%a%', 1, 0), coalesce(NULL, 1) FROM telemetry_events LIMIT 5",
        "SELECT count() FROM telemetry_events WHERE event_id IN (SELECT event_id FROM telemetry_events WHERE match(process_command_line, '(?i)example')) AND EXISTS (SELECT 1 FROM process_nodes)",
        'SELECT p.entity_id, p.exe, e.event_type FROM process_nodes AS p LEFT JOIN telemetry_events AS e ON p.entity_id = e.process_entity_id LIMIT 5',
        'SELECT quantile(0.95)(pid), topK(3)(exe), groupArrayDistinct(exe), argMax(exe, start_ts), anyIf(exe, pid > 1), avgOrNull(pid), groupUniqArrayArray(mitre) FROM process_nodes',
        "SELECT cityHash64(event_id), hex(SHA256(event_id)), base64Encode(event_id), isIPAddressInRange('10.0.0.1', '10.0.0.0/8'), domain('http://a.b/c'), replaceRegexpAll(event_id, 'a', 'b'), round(1.5), dateDiff('second', timestamp, now()), toTypeName(1), formatReadableSize(1024) FROM telemetry_events LIMIT 2",
        'SELECT hour, sum(events) FROM events_hourly GROUP BY hour ORDER BY hour',
      ]) {
        const r = await store.hunt(A, sql, limits());
        assert.ok(r.columns.length > 0, sql);
      }
    });

    test('errors reach the caller without the engine version or internals', async () => {
      const [{ v }] = await engine.query<{ v: string }>('SELECT version() AS v');
      for (const [sql, code] of [
        ['SELECT no_such_column FROM telemetry_events', 'query_failed'],
        ["SELECT toDate('not a date') FROM telemetry_events", 'query_failed'],
        ['SELECT 1 +', 'syntax'],
        ['SELECT groupArray(repeat(raw, 50)) FROM telemetry_events', 'memory_limit'],
      ] as const) {
        const r = await refusal(store.hunt(A, sql, limits({ maxMemoryBytes: 4 * 2 ** 20 })));
        assert.equal(r.code, code, `${sql}: ${r.message}`);
        assert.ok(!r.message.includes(v), `${sql}: ${r.message} names the engine version ${v}`);
        for (const internal of ENGINE_INTERNALS) assert.doesNotMatch(r.message, internal, sql);
      }
    });

    test('the engine enforces the limits: time, rows read, memory', async () => {
      const started = performance.now();
      const slow = await refusal(store.hunt(A, HEAVY, limits({ maxExecutionSeconds: 2 })));
      const took = performance.now() - started;
      assert.equal(slow.code, 'timeout', slow.message);
      assert.ok(took < 4_500, `stopped after ${Math.round(took)} ms with a 2 s limit`);
      const rows = await refusal(store.hunt(A, 'SELECT count() FROM telemetry_events WHERE process_pid > 0', limits({ maxRowsToRead: 100 })));
      assert.equal(rows.code, 'size_limit', rows.message);
      const bytes = await refusal(store.hunt(A, 'SELECT sum(length(raw)) FROM telemetry_events', limits({ maxBytesToRead: 10_000 })));
      assert.equal(bytes.code, 'size_limit', bytes.message);
      const result = await refusal(store.hunt(A, 'SELECT raw FROM telemetry_events', limits({ maxResultBytes: 10_000 })));
      assert.equal(result.code, 'size_limit', result.message);
      const ok = await store.hunt(A, 'SELECT count() FROM telemetry_events WHERE process_pid > 0', limits({ maxRowsToRead: 10_000 }));
      assert.equal(Number(ok.rows[0][0]), 2000); // the tenant filter prunes B's rows before they are counted
    });

    if (impl.inProcess) {
      test('a running hunt has the engine\'s limits: one thread, rows and bytes read, read-only', async () => {
        const running = store.hunt(A, HEAVY, limits({ maxExecutionSeconds: 2, maxRowsToRead: 123_456_789 })).catch((e: unknown) => e);
        let seen: Record<string, string> | undefined;
        for (const until = Date.now() + 2_000; !seen && Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
          [seen] = await engine.query<Record<string, string>>(`SELECT Settings['max_threads'] AS max_threads, Settings['max_rows_to_read'] AS max_rows_to_read,
            Settings['readonly'] AS readonly, Settings['max_execution_time'] AS max_execution_time, Settings['allow_introspection_functions'] AS introspection
            FROM system.processes WHERE query LIKE '%cityHash64(a.event_id%' AND query NOT LIKE '%system.processes%'`);
        }
        assert.deepEqual(seen, { max_threads: '1', max_rows_to_read: '123456789', readonly: '1', max_execution_time: '2', introspection: '0' });
        assert.equal(((await running) as HuntRefusal).code, 'timeout');
      });

      test('another tenant\'s searches stay fast while three heavy hunts run (hunt lane)', async (t) => {
        const latencies: number[] = [];
        let stop = false;
        const poll = (async () => {
          for (let i = 0; !stop; i++) {
            const t0 = performance.now();
            // a different `from` each time: a real read of the engine, as the API's result cache would otherwise answer
            const page = await store.queryEvents({ tenantId: B, limit: 5, from: new Date(NOW - 86_400_000 + i) });
            latencies.push(performance.now() - t0);
            assert.equal(page.events.length, 5);
            await new Promise((r) => setTimeout(r, 50));
          }
        })();
        const three = limits({ maxExecutionSeconds: 4, maxConcurrentPerTenant: 3, maxConcurrent: 3 });
        const hunts = await Promise.all([0, 1, 2].map(() => refusal(store.hunt(A, HEAVY, three))));
        stop = true;
        await poll;
        assert.deepEqual(hunts.map((h) => h.code), ['timeout', 'timeout', 'timeout']);
        latencies.sort((x, y) => x - y);
        const p95 = latencies[Math.floor(latencies.length * 0.95)];
        const max = latencies[latencies.length - 1];
        t.diagnostic(`tenant B searches during 3 heavy hunts of tenant A: n=${latencies.length} p50=${latencies[latencies.length >> 1].toFixed(0)} ms p95=${p95.toFixed(0)} ms max=${max.toFixed(0)} ms`);
        assert.ok(latencies.length >= 20, `only ${latencies.length} searches in 4 s`);
        assert.ok(p95 < 1_000 && max < 3_000, `p95 ${p95.toFixed(0)} ms, max ${max.toFixed(0)} ms`);
      });
    }
  });
}

describe('engine errors as callers see them', () => {
  test('a ClickHouse server\'s messages lose the version, exception class, error name, scope, processor and paths', () => {
    const cases: [string, string][] = [
      ["Code: 47. DB::Exception: Unknown expression identifier `nocol` in scope SELECT * FROM (SELECT nocol FROM telemetry_events) LIMIT 10001 SETTINGS additional_table_filters = {'telemetry_events': 'tenant_id = \\'t\\''}. (UNKNOWN_IDENTIFIER) (version 24.8.4.13 (official build))",
        'Unknown expression identifier `nocol`'],
      ['Code: 57. DB::Exception: There was an error on [ch-2.internal:9000]: Code: 57. DB::Exception: Table default.x already exists. (TABLE_ALREADY_EXISTS) (version 24.3.1.1). (TABLE_ALREADY_EXISTS) (version 24.3.1.1)',
        'Table default.x already exists'],
      ['Code: 241. DB::Exception: Query memory limit exceeded: would use 12.00 MiB (attempt to allocate chunk of 8.00 MiB), maximum: 9.54 MiB: While executing AggregatingTransform. (MEMORY_LIMIT_EXCEEDED) (version 25.1.2.3)',
        'Query memory limit exceeded: would use 12.00 MiB (attempt to allocate chunk of 8.00 MiB), maximum: 9.54 MiB'],
      ['Code: 62. DB::Exception: Syntax error: failed at position 1 (SELEC) (line 1, col 1): SELEC x. Expected one of: SELECT. (SYNTAX_ERROR) (version 26.7.2.1)',
        'Syntax error: failed at position 1 (SELEC) (line 1, col 1): SELEC x. Expected one of: SELECT'],
      ["Code: 446. DB::Exception: default: Introspection functions are disabled, because setting 'allow_introspection_functions' is set to 0. (FUNCTION_NOT_ALLOWED)",
        "Introspection functions are disabled, because setting 'allow_introspection_functions' is set to 0"],
      ['Code: 33. DB::Exception: Cannot read all data. Bytes read: 0. Bytes expected: 8.: (while reading column timestamp): (while reading from part /var/lib/clickhouse/store/a1b/a1b2/all_1_1_0/ in table default.telemetry_events): While executing MergeTreeSelect. (CANNOT_READ_ALL_DATA) (version 24.8.1.1 (official build))',
        'Cannot read all data. Bytes read: 0. Bytes expected: 8.'],
      ['Cannot open file /var/lib/clickhouse/user_files/x.csv, errno: 2. (version 24.8.1.1)', 'Cannot open file <path>, errno: 2.'],
    ];
    for (const [raw, shown] of cases) assert.equal(publicMessage(raw), shown);
    assert.equal(refusalOf(new Error(cases[2][0])).code, 'memory_limit');
    assert.equal(refusalOf(Object.assign(new Error('Timeout exceeded: elapsed 10001 ms, maximum: 10000 ms.'), { code: '159' })).code, 'timeout');
    assert.equal(refusalOf(Object.assign(new Error('the query did not finish'), { timedOut: true })).code, 'timeout');
    assert.equal(refusalOf(new Error("Code: 158. DB::Exception: Limit for rows (controlled by 'max_rows_to_read' setting) exceeded. (TOO_MANY_ROWS)")).code, 'size_limit');
  });
});

describe('hunt gate', () => {
  const gateLimits = (o: Partial<HuntLimits> = {}) => limits({ maxConcurrentPerTenant: 1, maxConcurrent: 2, queueWaitMs: 200, maxQueuedPerTenant: 1, maxExecutionSeconds: 7, ...o });

  test('one hunt per tenant at once; a second waits in the queue and runs when the first ends', async () => {
    const gate = new HuntGate();
    const first = await gate.acquire(A, gateLimits());
    const second = gate.acquire(A, gateLimits({ queueWaitMs: 5_000 }));
    assert.equal(gate.queued, 1);
    first();
    first(); // releasing twice frees one slot
    const release = await second;
    assert.equal(gate.active, 1);
    release();
    assert.equal(gate.active, 0);
  });

  test('no free slot within the queue wait, or too many waiting: busy with Retry-After', async () => {
    const gate = new HuntGate();
    const first = await gate.acquire(A, gateLimits());
    const waited = performance.now();
    const late = await refusal(gate.acquire(A, gateLimits()));
    assert.ok(performance.now() - waited >= 190);
    assert.equal(late.code, 'busy');
    assert.equal(late.retryAfterSeconds, 7);
    assert.match(late.message, /this tenant already runs 1 hunt \(at most 1 at once\)/);
    const queued = gate.acquire(A, gateLimits({ queueWaitMs: 5_000 }));
    const full = await refusal(gate.acquire(A, gateLimits())); // one of A's already waiting: refused at once
    assert.equal(full.code, 'busy');
    first();
    (await queued)();
  });

  test('another tenant runs while one is at its bound; the global bound holds for all', async () => {
    const gate = new HuntGate();
    const a = await gate.acquire(A, gateLimits());
    const b = await gate.acquire(B, gateLimits());
    const c = await refusal(gate.acquire('tenant-c', gateLimits()));
    assert.match(c.message, /the server already runs 2 hunts \(at most 2 at once\)/);
    const cLater = gate.acquire('tenant-c', gateLimits({ queueWaitMs: 5_000 }));
    const aAgain = gate.acquire(A, gateLimits({ queueWaitMs: 5_000 }));
    a(); // A's slot goes to C (first in the queue whose tenant is under its bound)
    const c2 = await cLater;
    assert.equal(gate.queued, 1);
    b(); // then A's second
    const a2 = await aAgain;
    c2();
    a2();
    assert.equal(gate.active, 0);
  });
});
