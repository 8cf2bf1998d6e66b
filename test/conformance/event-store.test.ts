// Event store conformance: the same cases against ClickHouseEventStore on the in-process engine (chdb) and
// on a ClickHouse server over HTTP (ClickHouseHttpEngine against the test fixture server, which answers
// from its own chdb engine in a child process). Each case uses its own tenant.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { EventType, VigilEvent } from '../../src/schema/event.ts';
import { ChdbEngine } from '../../src/stores/events/chdb-engine.ts';
import { ClickHouseHttpEngine } from '../../src/stores/events/clickhouse-http.ts';
import { ClickHouseEventStore } from '../../src/stores/events/clickhouse-store.ts';
import type { EventStore } from '../../src/stores/events/types.ts';
import { CachedEventStore } from '../../src/stores/events/cached.ts';
import { DEFAULT_HUNT_LIMITS } from '../../src/stores/events/hunt.ts';
import { spawnClickHouseFixture } from '../fixtures/clickhouse-http-server.ts';

interface StoreUnderTest {
  name: string;
  open(dir: string): Promise<{ store: EventStore; dispose(): Promise<void> }>;
}

const implementations: StoreUnderTest[] = [
  {
    name: 'chdb (in-process)',
    async open(dir) {
      const store = new ClickHouseEventStore(new ChdbEngine(dir));
      return { store, dispose: () => store.close() };
    },
  },
  {
    name: 'chdb behind the exact result cache (embedded server)',
    async open(dir) {
      const store = new CachedEventStore(new ClickHouseEventStore(new ChdbEngine(dir)));
      return { store, dispose: () => store.close() };
    },
  },
  {
    name: 'ClickHouse HTTP (fixture server)',
    async open(dir) {
      const server = await spawnClickHouseFixture(dir);
      const store = new ClickHouseEventStore(new ClickHouseHttpEngine({ url: server.url }));
      return { store, dispose: async () => { await store.close(); await server.stop(); } };
    },
  },
];

const T0 = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 3_600_000; // within the retention TTL
const at = (s: number) => new Date(T0 + s * 1000).toISOString();

interface EventSpec {
  tenant: string;
  host?: string;
  id: string;
  t: number; // seconds after T0
  type?: EventType;
  cmd?: string;
  exe?: string;
  path?: string;
  pid?: number;
  entity?: string;
  start?: number;
  exitCode?: number;
}

function event(s: EventSpec): VigilEvent {
  const e: VigilEvent = {
    '@timestamp': at(s.t),
    agent: { id: s.host ?? 'h1', hostname: `${s.host ?? 'h1'}.example`, tenant_id: s.tenant },
    event: { id: s.id, type: s.type ?? 'process_start', ingested: at(s.t + 1) },
  };
  if (s.pid !== undefined || s.cmd || s.exe) {
    e.process = { pid: s.pid ?? 100, ppid: 1, entity_id: s.entity ?? `ent-${s.id}`, executable: s.exe ?? '/usr/bin/true',
      command_line: s.cmd ?? '', start: at(s.start ?? s.t) };
    if (s.exitCode !== undefined) e.process.exit_code = s.exitCode;
  }
  if (s.path) e.file = { path: s.path };
  return e;
}

for (const impl of implementations) {
  describe(`event store conformance: ${impl.name}`, () => {
    let dir: string;
    let store: EventStore;
    let dispose: () => Promise<void>;
    const tenant = () => `t-${randomUUID()}`;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'vigil-evstore-'));
      ({ store, dispose } = await impl.open(dir));
      await store.init();
      await store.init(); // idempotent
    });
    after(async () => {
      await dispose();
      rmSync(dir, { recursive: true, force: true });
    });

    test('stores events; re-inserted ids count and read once', async () => {
      const t = tenant();
      const batch = Array.from({ length: 5 }, (_, i) => event({ tenant: t, id: `e${i}`, t: i, cmd: `cmd ${i}` }));
      await store.insert(batch);
      assert.equal(await store.countDistinct(t), 5);
      await store.insert([...batch.slice(0, 3), event({ tenant: t, id: 'e5', t: 5 }), event({ tenant: t, id: 'e6', t: 6 })]);
      await store.insert(batch.slice(3)); // the same bytes again, as a retried batch would be
      assert.equal(await store.countDistinct(t), 7);
      const page = await store.queryEvents({ tenantId: t, limit: 100 });
      assert.deepEqual(page.events.map((e) => e.event.id), ['e6', 'e5', 'e4', 'e3', 'e2', 'e1', 'e0']);
      assert.deepEqual(page.events.find((e) => e.event.id === 'e2'), batch[2]);
      assert.equal(page.next, null);
    });

    test('a batch stored again after a crash (another insert, other neighbours, later ingestion) counts once in every query', async () => {
      const t = tenant();
      // Process lifecycle: a parent and two children (start and end each), plus file events of one child.
      const events = [
        event({ tenant: t, id: 'p0', t: 0, pid: 10, entity: 'ent-p', cmd: 'sh' }),
        ...[1, 2].flatMap((c) => [
          event({ tenant: t, id: `c${c}`, t: c, pid: 10 + c, entity: `ent-c${c}`, cmd: `child ${c}` }),
          event({ tenant: t, id: `c${c}-end`, t: 10 + c, type: 'process_end', pid: 10 + c, entity: `ent-c${c}`, exitCode: 0 }),
        ]),
        ...Array.from({ length: 4 }, (_, i) => event({ tenant: t, id: `f${i}`, t: 20 + i, type: 'file_create', pid: 11, entity: 'ent-c1', path: `/tmp/f${i}` })),
      ];
      for (const e of events) if (e.process && e.event.id.startsWith('c')) (e.process as Record<string, unknown>).parent = { entity_id: 'ent-p', pid: 10 };
      await store.insert(events);
      const before = await answers(t);
      // The replay: the same events, ingested again later, cut into other batches with other neighbours.
      const replayed = events.map((e) => ({ ...e, event: { ...e.event, ingested: at(100) } }));
      await store.insert([...replayed.slice(3), event({ tenant: t, id: 'later', t: 3000, type: 'file_create', path: '/tmp/x' })]);
      await store.insert(replayed.slice(0, 3));
      await store.insert(replayed.slice(0, 3)); // and once more, byte for byte
      const after = await answers(t);
      // Hourly counts come from the events_hourly rollup, which counts a batch stored again: the pipeline keeps
      // redelivered events already stored out (test/server/pipeline.test.ts), the store does not; compared before only.
      assert.equal(before.perHour, events.length);
      assert.deepEqual({ ...after, perHour: 0 }, { ...before, perHour: 0, distinct: before.distinct + 1, listed: [...before.listed, 'later'].sort(),
        perMinute: before.perMinute + 1, hunted: before.hunted + 1, huntedDistinct: before.huntedDistinct + 1 });
      assert.deepEqual(before.children, ['c1', 'c2', 'c1-end', 'c2-end']);
      assert.equal(before.distinct, events.length);
      assert.equal(before.perMinute, events.length);
      assert.equal(before.hunted, events.length);
    });

    test('storedEventIds: which of the given events are stored, matched by tenant, host, timestamp and id', async () => {
      const t = tenant();
      const stored = [
        event({ tenant: t, id: 's0', t: 0 }), event({ tenant: t, id: 's1', t: 1, host: 'h2' }),
        { ...event({ tenant: t, id: 's2', t: 0 }), '@timestamp': new Date(T0 + 2500).toISOString().replace('Z', '456Z') }, // microseconds: stored to the ms
      ];
      await store.insert(stored);
      await store.insert([stored[0]]); // stored twice: still one id
      assert.deepEqual(await store.storedEventIds([]), new Set());
      const asked = [
        ...stored.map((e) => ({ ...e, event: { ...e.event, ingested: at(100) } })), // redelivered: ingested again later
        event({ tenant: t, id: 'new', t: 3 }),
        event({ tenant: t, id: 's0', t: 0, host: 'h2' }), // another host
        event({ tenant: t, id: 's1', t: 7, host: 'h2' }), // another time
        event({ tenant: tenant(), id: 's0', t: 0 }), // another tenant
      ];
      assert.deepEqual([...await store.storedEventIds(asked)].sort(), ['s0', 's1', 's2']);
      assert.deepEqual(await store.storedEventIds(asked.slice(3)), new Set());
      // Past one query's slice of keys.
      const many = Array.from({ length: 4500 }, (_, i) => event({ tenant: t, id: `m${i}`, t: 10 + (i % 50) }));
      await store.insert(many.filter((_, i) => i % 3 === 0));
      assert.equal((await store.storedEventIds(many)).size, 1500);
    });

    /** What every read of the store says about tenant `t`'s events. */
    async function answers(t: string) {
      const listed: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.queryEvents({ tenantId: t, limit: 3, cursor });
        listed.push(...page.events.map((e) => e.event.id));
        cursor = page.next ?? undefined;
      } while (cursor);
      const sum = (rows: { count: number }[]) => rows.reduce((n, r) => n + r.count, 0);
      const from = new Date(T0 - 3_600_000);
      const hunt = await store.hunt(t, "SELECT count() AS n, uniqExact(event_id) AS u FROM telemetry_events", DEFAULT_HUNT_LIMITS);
      const huntedNodes = await store.hunt(t, "SELECT count() AS n FROM process_nodes WHERE entity_id = 'ent-c1'", DEFAULT_HUNT_LIMITS);
      return {
        listed: listed.sort(),
        distinct: await store.countDistinct(t),
        perMinute: sum(await store.eventCounts(t, from, 60)),
        perHour: sum(await store.eventCounts(t, from, 3600)),
        processCounts: await store.processEventCounts(t, 'h1', 'ent-c1', new Date(T0)),
        lifecycle: (await store.processEvents(t, 'h1', ['ent-p', 'ent-c1', 'ent-c2'])).map((e) => e.event.id),
        children: (await store.childProcessEvents(t, 'h1', 'ent-p', new Date(T0), 100)).map((e) => e.event.id),
        nodes: (await store.processNodes(t, 'h1', new Date(T0 + 1500), 100)).map((n) => n.entity_id),
        hunted: Number(hunt.rows[0][0]),
        huntedDistinct: Number(hunt.rows[0][1]),
        huntedNodes: Number(huntedNodes.rows[0][0]),
      };
    }

    test('a search repeated after an insert sees what was inserted', async () => {
      const t = tenant();
      await store.insert([event({ tenant: t, id: 'r0', t: 0 })]);
      const q = { tenantId: t, limit: 10 };
      assert.deepEqual((await store.queryEvents(q)).events.map((e) => e.event.id), ['r0']);
      assert.deepEqual((await store.queryEvents(q)).events.map((e) => e.event.id), ['r0']);
      await store.insert([event({ tenant: t, id: 'r1', t: 1 })]);
      assert.deepEqual((await store.queryEvents(q)).events.map((e) => e.event.id), ['r1', 'r0']);
    });

    test('filters by time range (half-open), host, type and text', async () => {
      const t = tenant();
      await store.insert([
        event({ tenant: t, host: 'h1', id: 'a', t: 0, cmd: 'curl http://EXAMPLE.org' }),
        event({ tenant: t, host: 'h2', id: 'b', t: 10, exe: '/usr/bin/wget' }),
        event({ tenant: t, host: 'h1', id: 'c', t: 20, type: 'file_write', path: '/etc/shadow' }),
        event({ tenant: t, host: 'h2', id: 'd', t: 30, type: 'network_connection' }),
      ]);
      const ids = async (q: Omit<Parameters<EventStore['queryEvents']>[0], 'tenantId' | 'limit'>) =>
        (await store.queryEvents({ tenantId: t, limit: 10, ...q })).events.map((e) => e.event.id);
      assert.deepEqual(await ids({ from: new Date(at(10)), to: new Date(at(30)) }), ['c', 'b']);
      assert.deepEqual(await ids({ hostId: 'h2' }), ['d', 'b']);
      assert.deepEqual(await ids({ types: ['file_write', 'network_connection'] }), ['d', 'c']);
      assert.deepEqual(await ids({ q: 'example' }), ['a']);
      assert.deepEqual(await ids({ q: 'WGET' }), ['b']);
      assert.deepEqual(await ids({ q: 'shadow', hostId: 'h1' }), ['c']);
      assert.deepEqual(await ids({ q: 'shadow', hostId: 'h2' }), []);
    });

    test('filters by process, user, file path, image hash and address (with the other filters and the cursor)', async () => {
      const t = tenant();
      const sha = (c: string) => c.repeat(64);
      const withFields = (e: VigilEvent, more: Partial<VigilEvent>): VigilEvent => ({ ...e, ...more, process: { ...e.process, ...more.process } });
      const p1 = { entity: 'proc-1', pid: 10 };
      const p2 = { entity: 'proc-2', pid: 20 };
      await store.insert([
        withFields(event({ tenant: t, id: 's1', t: 0, exe: '/tmp/dropper', ...p1 }), { user: { name: 'alice' }, process: { hash: { sha256: sha('a') } } }),
        withFields(event({ tenant: t, id: 'w1', t: 1, type: 'file_write', exe: '/tmp/dropper', path: '/home/alice/.ssh/authorized_keys', ...p1 }), { user: { name: 'alice' } }),
        withFields(event({ tenant: t, id: 'n1', t: 2, type: 'network_connection', exe: '/tmp/dropper', ...p1 }),
          { user: { name: 'alice' }, source: { ip: '10.0.0.5', port: 40000 }, destination: { ip: '203.0.113.9', port: 443 } }),
        withFields(event({ tenant: t, id: 's2', t: 3, exe: '/usr/bin/sshd', ...p2 }), { user: { name: 'root' }, process: { hash: { sha256: sha('b') } } }),
        withFields(event({ tenant: t, id: 'a2', t: 4, type: 'network_accept', exe: '/usr/bin/sshd', ...p2 }),
          { user: { name: 'root' }, source: { ip: '203.0.113.9', port: 50000 }, destination: { ip: '10.0.0.5', port: 22 } }),
        withFields(event({ tenant: t, id: 'w2', t: 5, type: 'file_write', exe: '/usr/bin/sshd', path: '/var/log/a%b_c.log', ...p2 }), { user: { name: 'root' } }),
        withFields(event({ tenant: t, host: 'h2', id: 'x3', t: 6, exe: '/tmp/dropper', path: '/home/alice/.ssh/x', entity: 'proc-3', pid: 30 }),
          { user: { name: 'alice' }, process: { hash: { sha256: sha('a') } } }),
      ]);
      const ids = async (q: Omit<Parameters<EventStore['queryEvents']>[0], 'tenantId' | 'limit'>) =>
        (await store.queryEvents({ tenantId: t, limit: 10, ...q })).events.map((e) => e.event.id);
      assert.deepEqual(await ids({ processEntityId: 'proc-1' }), ['n1', 'w1', 's1'], "one process's events");
      assert.deepEqual(await ids({ processEntityId: 'proc-1', types: ['file_write'] }), ['w1']);
      assert.deepEqual(await ids({ processEntityId: 'proc-1', from: new Date(at(1)), to: new Date(at(2)) }), ['w1']);
      assert.deepEqual(await ids({ processEntityId: 'proc' }), [], 'the entity id is exact');
      assert.deepEqual(await ids({ userName: 'root' }), ['w2', 'a2', 's2']);
      assert.deepEqual(await ids({ userName: 'alice', hostId: 'h2' }), ['x3']);
      assert.deepEqual(await ids({ userName: 'ROOT' }), [], 'the user name is exact');
      assert.deepEqual(await ids({ filePath: '.ssh/' }), ['x3', 'w1']);
      assert.deepEqual(await ids({ filePath: 'a%b_c' }), ['w2'], 'LIKE wildcards are plain text');
      assert.deepEqual(await ids({ filePath: 'a_b' }), [], '_ is not a wildcard');
      assert.deepEqual(await ids({ filePath: '%' }), ['w2']);
      assert.deepEqual(await ids({ filePath: 'SSH' }), [], 'case-sensitive');
      assert.deepEqual(await ids({ ip: '203.0.113.9' }), ['a2', 'n1'], 'source or destination');
      assert.deepEqual(await ids({ ip: '10.0.0.5', types: ['network_accept'] }), ['a2']);
      assert.deepEqual(await ids({ ip: '10.0.0.50' }), []);
      assert.deepEqual(await ids({ sha256: sha('a') }), ['x3', 'n1', 'w1', 's1'], 'every event of the processes with that image');
      assert.deepEqual(await ids({ sha256: sha('a'), hostId: 'h1' }), ['n1', 'w1', 's1']);
      assert.deepEqual(await ids({ sha256: sha('a'), to: new Date(at(2)) }), ['w1', 's1']);
      assert.deepEqual(await ids({ sha256: sha('c') }), []);
      const first = await store.queryEvents({ tenantId: t, limit: 2, processEntityId: 'proc-1' });
      assert.deepEqual(first.events.map((e) => e.event.id), ['n1', 'w1']);
      const rest = await store.queryEvents({ tenantId: t, limit: 2, processEntityId: 'proc-1', cursor: first.next! });
      assert.deepEqual([rest.events.map((e) => e.event.id), rest.next], [['s1'], null]);
      assert.deepEqual((await store.queryEvents({ tenantId: tenant(), limit: 10, processEntityId: 'proc-1' })).events, [], "another tenant's process is not seen");
    });

    test('a process_hash event is a lifecycle event of its process, and the image hash filter finds the process by it', async () => {
      const t = tenant();
      const hash = { sha256: 'd'.repeat(64), sha1: 'e'.repeat(40), md5: 'f'.repeat(32) };
      const file = { size: 1234, inode: '56', device: '2049', mtime: at(-100) };
      await store.insert([
        event({ tenant: t, id: 's1', t: 0, pid: 70, entity: 'P', exe: '/tmp/x' }),
        event({ tenant: t, id: 'w1', t: 1, type: 'file_write', pid: 70, entity: 'P', exe: '/tmp/x', path: '/tmp/out' }),
        { ...event({ tenant: t, id: 'h1', t: 2, type: 'process_hash', pid: 70, entity: 'P', exe: '/tmp/x', start: 0 }),
          process: { pid: 70, entity_id: 'P', executable: '/tmp/x', start: at(0), hash, file } },
      ]);
      const lifecycle = await store.processEvents(t, 'h1', ['P']);
      assert.deepEqual(lifecycle.map((e) => e.event.id), ['s1', 'h1']);
      assert.deepEqual(lifecycle[1].process?.hash, hash);
      assert.deepEqual((await store.queryEvents({ tenantId: t, limit: 10, sha256: hash.sha256 })).events.map((e) => e.event.id), ['h1', 'w1', 's1']);
    });

    test('cursor paging visits every event once, newest first, across equal timestamps', async () => {
      const t = tenant();
      const all = Array.from({ length: 23 }, (_, i) => event({ tenant: t, id: `p${String(i).padStart(2, '0')}`, t: Math.floor(i / 4) }));
      await store.insert(all);
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.queryEvents({ tenantId: t, limit: 5, cursor });
        seen.push(...page.events.map((e) => e.event.id));
        if (!page.next) break;
        cursor = page.next;
      }
      const expected = [...all].sort((a, b) => (a['@timestamp'] === b['@timestamp']
        ? b.event.id.localeCompare(a.event.id) : b['@timestamp'].localeCompare(a['@timestamp']))).map((e) => e.event.id);
      assert.deepEqual(seen, expected);
    });

    test('process nodes at a time: start and exit merged, PID reuse kept apart', async () => {
      const t = tenant();
      await store.insert([
        event({ tenant: t, id: 's1', t: 0, pid: 500, entity: 'A', exe: '/bin/sh', cmd: 'sh -c x' }),
        event({ tenant: t, id: 's2', t: 5, pid: 501, entity: 'B', exe: '/usr/bin/sleep' }),
        event({ tenant: t, id: 'x1', t: 20, type: 'process_end', pid: 500, entity: 'A', exe: '/bin/sh', cmd: 'sh -c x', start: 0, exitCode: 3 }),
        event({ tenant: t, id: 's3', t: 30, pid: 500, entity: 'C', exe: '/usr/bin/python3' }),
      ]);
      const alive = async (s: number) => (await store.processNodes(t, 'h1', new Date(at(s)), 100)).map((n) => n.entity_id);
      assert.deepEqual(await alive(10), ['A', 'B']);
      assert.deepEqual(await alive(25), ['B']);
      assert.deepEqual(await alive(40), ['B', 'C']);
      const [a] = await store.processNodes(t, 'h1', new Date(at(1)), 100);
      assert.equal(a.exe, '/bin/sh');
      assert.equal(a.cmdline, 'sh -c x');
      assert.equal(a.pid, 500);
      assert.equal(a.start_ts, at(0));
      assert.equal(a.exit_ts, at(20));
      assert.equal(Number(a.exit_code), 3);
      assert.deepEqual(await store.processNodes(t, 'other-host', new Date(at(10)), 100), []);
    });

    test('another tenant sees nothing', async () => {
      const mine = tenant();
      const other = tenant();
      await store.insert([event({ tenant: mine, id: 'm1', t: 0, pid: 7, entity: 'M' })]);
      assert.equal(await store.countDistinct(other), 0);
      assert.deepEqual((await store.queryEvents({ tenantId: other, limit: 10 })).events, []);
      assert.deepEqual((await store.queryEvents({ tenantId: other, limit: 10, hostId: 'h1' })).events, []);
      assert.deepEqual(await store.processNodes(other, 'h1', new Date(at(1)), 10), []);
      assert.equal((await store.queryEvents({ tenantId: mine, limit: 10 })).events.length, 1);
    });

    test('bad input: a precise error for a bad cursor, hostile text is only text', async () => {
      const t = tenant();
      await store.insert([event({ tenant: t, id: 'q1', t: 0, cmd: "echo '; DROP TABLE telemetry_events; --" })]);
      await assert.rejects(store.queryEvents({ tenantId: t, limit: 5, cursor: 'not-a-cursor' }), /invalid cursor/);
      const hostile = (await store.queryEvents({ tenantId: t, limit: 5, q: "'; DROP TABLE telemetry_events; --" })).events;
      assert.deepEqual(hostile.map((e) => e.event.id), ['q1']);
      assert.deepEqual((await store.queryEvents({ tenantId: t, limit: 5, hostId: "h1' OR '1'='1" })).events, []);
      await store.insert([]);
      assert.equal(await store.countDistinct(t), 1);
    });
  });
}
