// Tenancy of the shared rule set: a rule's automated response answers to the tenant that uploaded it (or, for
// rule files, to the operator's configuration), the alert's host is the reporting agent (never a host the event
// names), writing a rule that responds needs leave to respond, and one tenant's correlation groups cannot push
// another tenant's out of the bounded state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Alert } from '../../src/detect/alerts.ts';
import { MAX_GROUPS } from '../../src/detect/correlation.ts';
import { Detector } from '../../src/detect/engine.ts';
import { loadCompileOptions } from '../../src/detect/loader.ts';
import { normalizeRecord } from '../../src/detect/records.ts';
import { RuleRegistry } from '../../src/detect/registry.ts';
import { DetectionStage } from '../../src/detect/stage.ts';
import { DEFAULT_AUTO_RESPONSE_POLICY, planAutoResponse } from '../../src/response/automation.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { compileSigma } from '../../src/sigma/parser.ts';
import { vigilFieldMapper } from '../../src/detect/logsources.ts';

const rule = (id: string, exe: string, response = true): string => `title: r ${id}
id: ${id}
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    Image|endswith: '${exe}'
  condition: sel
level: critical
${response ? 'response:\n  action: kill_process\n' : ''}`;

let n = 0;
const ev = (exe: string, tenant: string, agent: string, host = agent): VigilEvent => ({
  '@timestamp': '2026-01-01T00:00:00.000Z', agent: { id: agent, tenant_id: tenant }, host: { id: host },
  event: { id: `t${++n}`, type: 'process_start' }, process: { executable: exe, pid: 4242, entity_id: `pe${n}` },
});

async function alertsOf(snapshot: ReturnType<RuleRegistry['snapshot']>, events: VigilEvent[]): Promise<Alert[]> {
  const out: Alert[] = [];
  await new DetectionStage(snapshot, { write: async (a) => { out.push(...a); } }).process(events);
  return out;
}

const on = { ...DEFAULT_AUTO_RESPONSE_POLICY, enabled: true };

test('an uploaded rule\'s response carries its owning tenant and runs only on that tenant\'s hosts', async () => {
  const reg = new RuleRegistry(loadCompileOptions({}));
  assert.equal(reg.add(rule('r-owned', '/miner'), { owner: 'default' }).ok, true);
  assert.deepEqual(reg.get('r-owned')?.info.owner, { kind: 'tenant', tenant_id: 'default' });
  const [own, foreign] = await alertsOf(reg.snapshot(), [ev('/tmp/miner', 'default', 'agt-own'), ev('/tmp/miner', 'other', 'agt-foreign')]);
  assert.deepEqual(own.rule.owner, { kind: 'tenant', tenant_id: 'default' });
  assert.deepEqual(foreign.rule.owner, { kind: 'tenant', tenant_id: 'default' });
  assert.equal(planAutoResponse(own, own.rule.response!, on, 0).run, true);
  const refused = planAutoResponse(foreign, foreign.rule.response!, on, 0);
  assert.equal(refused.run, false);
  assert.match((refused as { reason: string }).reason, /belongs to tenant default/);
});

test('a rule without a recorded owner (uploaded before owners were kept) never responds', async () => {
  const reg = new RuleRegistry(loadCompileOptions({}));
  assert.equal(reg.add(rule('r-legacy', '/miner')).ok, true);
  const [a] = await alertsOf(reg.snapshot(), [ev('/tmp/miner', 'default', 'agt-own')]);
  assert.equal(a.rule.owner, undefined);
  assert.match((planAutoResponse(a, a.rule.response!, on, 0) as { reason: string }).reason, /no owning tenant/);
});

test('rule files respond only in the tenants the operator configured (default: the home tenant)', async () => {
  const reg = new RuleRegistry(loadCompileOptions({}));
  reg.setSources('directory', [{ path: '/rules/miner.yml', text: rule('r-file', '/miner') }]);
  const [home, foreign] = await alertsOf(reg.snapshot(), [ev('/tmp/miner', 'default', 'agt-own'), ev('/tmp/miner', 'other', 'agt-foreign')]);
  assert.deepEqual(foreign.rule.owner, { kind: 'operator' });
  assert.equal(planAutoResponse(home, home.rule.response!, on, 0).run, true);
  assert.match((planAutoResponse(foreign, foreign.rule.response!, on, 0) as { reason: string }).reason, /not configured/);
  assert.equal(planAutoResponse(foreign, foreign.rule.response!, { ...on, operatorRuleTenants: ['other'] }, 0).run, true);
  assert.equal(planAutoResponse(foreign, foreign.rule.response!, { ...on, operatorRuleTenants: '*' }, 0).run, true);
  assert.equal(planAutoResponse(home, home.rule.response!, { ...on, operatorRuleTenants: [] }, 0).run, false);
});

test('writing a rule that names a response needs leave to respond; the refusal changes nothing', () => {
  const reg = new RuleRegistry(loadCompileOptions({}));
  const refused = reg.add(rule('r-x', '/x'), { owner: 'default', mayRespond: false });
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.status, 'forbidden');
  assert.equal(reg.get('r-x'), undefined);
  assert.equal(reg.add(rule('r-x', '/x', false), { owner: 'default', mayRespond: false }).ok, true);
  const replaced = reg.replace('r-x', rule('r-x', '/y'), { owner: 'default', mayRespond: false });
  assert.equal(!replaced.ok && replaced.status, 'forbidden');
  assert.equal(reg.get('r-x')?.info.response, undefined, 'the rule is as it was');
  assert.equal(reg.replace('r-x', rule('r-x', '/y'), { owner: 'default', mayRespond: true }).ok, true);
  assert.equal(reg.get('r-x')?.info.response, 'kill_process');
});

test('the alert\'s host is the agent that reported the event, whatever host the event names', async () => {
  const reg = new RuleRegistry(loadCompileOptions({}));
  assert.equal(reg.add(rule('r-host', '/miner'), { owner: 'other' }).ok, true);
  // An agent of tenant `other` names a host of tenant `default` in its event.
  const [a] = await alertsOf(reg.snapshot(), [ev('/tmp/miner', 'other', 'agt-foreign', 'agt-own')]);
  assert.equal(a.tenant_id, 'other');
  assert.equal(a.host_id, 'agt-foreign');
  const plan = planAutoResponse(a, a.rule.response!, on, 0);
  assert.equal(plan.run && plan.hostId, 'agt-foreign');
});

test('one tenant\'s correlation groups never evict another tenant\'s', () => {
  const text = `title: login
id: 00000000-0000-4000-8000-0000000000b1
name: login
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    Image|endswith: '/login'
  condition: sel
---
title: many logins
id: c-many
name: c-many
correlation:
  type: event_count
  rules: [login]
  group-by: [User]
  timespan: 1h
  condition:
    gte: 2
`;
  const r = compileSigma([{ path: 'c.yml', text }], { fieldMapper: vigilFieldMapper });
  assert.deepEqual(r.rejected, []);
  const d = new Detector(r);
  const login = (tenant: string, user: string, s: number) => normalizeRecord({
    '@timestamp': new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString(), agent: { id: `agt-${tenant}`, tenant_id: tenant },
    event: { id: `l${++n}`, type: 'process_start' }, process: { executable: '/bin/login', pid: 1 }, user: { name: user },
  })!;
  const correlations = (alerts: Alert[]) => alerts.filter((a) => a.rule.id === 'c-many');
  assert.deepEqual(correlations(d.detect(login('victim', 'alice', 0), 'victim')), []);
  // Another tenant opens more groups than the bound (one user name each) within the window.
  for (let i = 0; i <= MAX_GROUPS; i++) d.detect(login('noisy', `u${i}`, 1), 'noisy');
  const fired = correlations(d.detect(login('victim', 'alice', 2), 'victim'));
  assert.equal(fired.length, 1, 'the victim tenant\'s open group survived');
  assert.equal(fired[0].tenant_id, 'victim');
});
