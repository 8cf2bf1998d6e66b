// Alert store figures at 100,000 alerts in one tenant (SQLite, then PostgreSQL on 127.0.0.1:5432): list + total, filters, groups, a bulk close.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteAlertStore } from '../src/stores/alerts/sqlite.ts';
import { PostgresAlertStore } from '../src/stores/alerts/postgres.ts';
import { createTempDatabase } from '../test/support/postgres.ts';
const N = 100_000;
const mk = (i: number) => ({ id: `a${i}`, tenant_id: 't', host_id: `h${i % 200}`, process_entity_id: `p${i % 5000}`,
  rule: { id: `r${i % 300}`, title: `Rule ${i % 300}`, level: (['low', 'medium', 'high', 'critical'] as const)[i % 4], references: [], type: 'single' as const },
  mitre: [], events: [{ event: { id: `e${i}` }, process: { executable: '/bin/x', command_line: `x --n ${i}` } }], event_ids: [`e${i}`],
  first_seen: new Date(1.7e12 + i * 1000).toISOString(), last_seen: new Date(1.7e12 + i * 1000).toISOString(), occurrences: 1 });
async function run(name: string, store: any) {
  await store.migrate();
  for (let i = 0; i < N; i += 2000) await store.write(Array.from({ length: 2000 }, (_, j) => mk(i + j)));
  const time = async (what: string, f: () => Promise<unknown>) => { await f(); const t0 = performance.now(); for (let k = 0; k < 5; k++) await f(); console.log(name, what, ((performance.now() - t0) / 5).toFixed(1), 'ms'); };
  await time('list 100 + total', () => Promise.all([store.list({ tenantId: 't', limit: 100 }), store.count({ tenantId: 't' })]));
  await time('list host filter + total', () => Promise.all([store.list({ tenantId: 't', hostIds: ['h7'], limit: 100 }), store.count({ tenantId: 't', hostIds: ['h7'] })]));
  await time('list status+severity + total', () => Promise.all([store.list({ tenantId: 't', statuses: ['open'], severities: ['high'], limit: 100 }), store.count({ tenantId: 't', statuses: ['open'], severities: ['high'] })]));
  await time('group_by rule', () => store.groups({ tenantId: 't', limit: 100 }, 'rule'));
  await time('group_by process', () => store.groups({ tenantId: 't', limit: 100 }, 'process'));
  const t0 = performance.now();
  const r = await store.bulkTriage({ tenantId: 't', severities: ['critical'] }, 'x', { action: 'close', disposition: 'benign', reason: 'b' }, 10000);
  console.log(name, 'bulk close 10,000 of', r.matched, (performance.now() - t0).toFixed(0), 'ms');
  await store.close();
}
await run('sqlite', new SqliteAlertStore(join(mkdtempSync(join(tmpdir(), 'b-')), 'd.db')));
const db = await createTempDatabase('bench');
await run('postgres', new PostgresAlertStore(db.config));
await db.drop();
