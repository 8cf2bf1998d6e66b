// AI-service usage: the shipped catalogue parses and is checked; names match with subdomains, addresses by the
// published ranges; the stage's findings (a resolution, a connection to an address the host resolved for a service,
// a connection into a service's range, bytes where counted), aggregated per host, user, service and executable;
// the tenant's policy decides whether alerts are raised; the store on SQLite and PostgreSQL.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AiServiceCatalog, parseAiServices } from '../../src/intel/ai-services.ts';
import { AiUsageStage, type AiPolicy, type AiUsageRecord } from '../../src/intel/ai-usage.ts';
import { loadAiServices } from '../../src/server/intel.ts';
import { openPostgresAiUsageStore, openSqliteAiUsageStore, type SqlAiUsageStore } from '../../src/stores/intel/ai-usage-store.ts';
import type { Alert } from '../../src/detect/alerts.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { createTempDatabase } from '../support/postgres.ts';

const T0 = Date.parse('2026-12-08T10:00:00Z');

function ev(i: number, over: Record<string, unknown>): VigilEvent {
  return {
    '@timestamp': new Date(T0 + i * 1000).toISOString(), agent: { id: 'host-a', tenant_id: 't1' }, event: { id: `e${i}`, type: 'network_connection' },
    process: { pid: 10, entity_id: 'p10', executable: '/usr/bin/python3' }, user: { id: '1000', name: 'alice' }, ...over,
  } as unknown as VigilEvent;
}

test('the shipped catalogue: parsed, names with subdomains, published ranges; bad files refused with the entry', () => {
  const c = loadAiServices();
  assert.ok(c.services.length >= 20);
  assert.equal(c.byName('chatgpt.com')?.id, 'openai');
  assert.equal(c.byName('API.OpenAI.com.')?.id, 'openai');
  assert.equal(c.byName('files.oaiusercontent.com')?.id, 'openai');
  assert.equal(c.byName('claude.ai')?.id, 'anthropic');
  assert.equal(c.byName('google.com'), undefined, 'only the Gemini names of Google');
  assert.equal(c.byName('notopenai.com'), undefined);
  assert.equal(c.byAddress('160.79.105.7')?.id, 'anthropic');
  assert.equal(c.byAddress('2607:6bc0::10')?.id, 'anthropic');
  assert.equal(c.byAddress('160.79.106.1'), undefined);
  assert.throws(() => parseAiServices('{"services":[{"id":"x","domains":["not a domain!"]}]}'), /entry 0 \(x\): 'not a domain!'/);
  assert.throws(() => parseAiServices('{"services":[{"id":"x"},{"id":"x"}]}'), /entry 1: id must be a unique/);
  assert.throws(() => parseAiServices('{}'), /expected \{"services"/);
});

class MemoryStore {
  rows: AiUsageRecord[] = [];
  policyOf = new Map<string, AiPolicy>();
  async record(rows: AiUsageRecord[]) { this.rows.push(...rows); }
  async policy(t: string) { return this.policyOf.get(t) ?? 'record'; }
}

test('the stage: resolution, connection to a resolved address, connection into a range; aggregated; policy record or alert', async () => {
  const catalog = new AiServiceCatalog(parseAiServices(JSON.stringify({ services: [
    { id: 'openai', name: 'OpenAI', vendor: 'OpenAI', domains: ['openai.com', 'chatgpt.com'], ranges: [] },
    { id: 'anthropic', name: 'Anthropic', vendor: 'Anthropic', domains: ['claude.ai'], ranges: ['160.79.104.0/23'] },
  ] })));
  const store = new MemoryStore();
  const alerts: Alert[] = [];
  const stage = new AiUsageStage({ catalog, store, sink: { write: async (a) => { alerts.push(...a); } }, now: () => T0 });
  const batch = [
    ev(1, { event: { id: 'dns1', type: 'dns' }, dns: { type: 'answer', question: { name: 'chatgpt.com', type: 'A' }, resolved_ip: ['203.0.113.7'] }, destination: { ip: '127.0.0.53', port: 53 } }),
    ev(2, { destination: { ip: '203.0.113.7', port: 443 }, network: { bytes: 5000 } }),
    ev(3, { destination: { ip: '203.0.113.7', port: 443 } }),
    ev(4, { destination: { ip: '160.79.104.20', port: 443 }, process: { pid: 11, entity_id: 'p11', executable: '/usr/bin/curl' }, user: { name: 'bob' } }),
    ev(5, { destination: { ip: '198.51.100.1', port: 443 } }),
    ev(6, { agent: { id: 'host-b', tenant_id: 't1' }, destination: { ip: '203.0.113.7', port: 443 } }), // another host did not resolve it
    ev(7, { destination: { ip: '160.79.104.21' }, labels: { 'vigil.self': 'true' } }),
  ];
  await stage.process(batch);
  assert.deepEqual(store.rows.map((r) => [r.hostId, r.userName, r.serviceId, r.executable, r.resolutions, r.connections, r.bytes]).sort(), [
    ['host-a', 'alice', 'openai', '/usr/bin/python3', 1, 2, 5000],
    ['host-a', 'bob', 'anthropic', '/usr/bin/curl', 0, 1, 0],
  ].sort());
  const openai = store.rows.find((r) => r.serviceId === 'openai')!;
  assert.deepEqual([openai.firstSeen, openai.lastSeen], [T0 + 1000, T0 + 3000]);
  assert.equal(alerts.length, 0, 'policy record: no alert');
  store.policyOf.set('t1', 'alert');
  const stage2 = new AiUsageStage({ catalog, store, sink: { write: async (a) => { alerts.push(...a); } }, now: () => T0 });
  await stage2.process([ev(8, { event: { id: 'dns2', type: 'dns' }, dns: { question: { name: 'api.openai.com' } } })]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0].rule.id, 'ai-usage:openai');
  assert.equal(alerts[0].group_by?.how, 'resolution');
  assert.equal(alerts[0].host_id, 'host-a');
  assert.equal(alerts[0].process_entity_id, 'p10');
});

async function storeConformance(s: SqlAiUsageStore): Promise<void> {
  const row = (over: Partial<AiUsageRecord>): AiUsageRecord => ({ tenantId: 't1', hostId: 'h', userName: 'alice', serviceId: 'openai', executable: '/bin/x', firstSeen: 2000, lastSeen: 3000, connections: 1, resolutions: 0, bytes: 10, ...over });
  await s.record([row({})]);
  await s.record([row({ firstSeen: 1000, lastSeen: 2500, connections: 2, resolutions: 1, bytes: 5 }), row({ tenantId: 't2' })]);
  const [r] = await s.list('t1', 0);
  assert.deepEqual([r.firstSeen, r.lastSeen, r.connections, r.resolutions, r.bytes], [1000, 3000, 3, 1, 15]);
  assert.equal((await s.list('t1', 3001)).length, 0);
  assert.equal(await s.policy('t1'), 'record');
  await s.setPolicy('t1', 'alert', 'u1');
  assert.equal(await s.policy('t1'), 'alert');
  assert.equal(await s.policy('t2'), 'record', 'tenants apart');
  assert.equal((await s.policyRecord('t1')).updatedBy, 'u1');
}

test('the store on SQLite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-ai-'));
  const s = await openSqliteAiUsageStore(join(dir, 'ai.db'));
  try { await storeConformance(s); } finally { await s.close(); rmSync(dir, { recursive: true, force: true }); }
});

test('the store on PostgreSQL', async () => {
  const db = await createTempDatabase('aiusage');
  const s = await openPostgresAiUsageStore(db.config);
  try { await storeConformance(s); } finally { await s.close(); await db.drop(); }
});
