// The pure core of response actions: lifecycle transitions, parameter validation, the nftables ruleset text,
// the automated-response policy.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IsolationController, parseServerAddress } from '../../src/agent/response/isolation.ts';
import { isolationScript, releaseScript } from '../../src/agent/response/nftables.ts';
import type { Alert } from '../../src/detect/alerts.ts';
import { AutoResponder, DEFAULT_AUTO_RESPONSE_POLICY, planAutoResponse } from '../../src/response/automation.ts';
import { transition } from '../../src/response/lifecycle.ts';
import { parseParams, type CommandRecord } from '../../src/response/model.ts';

test('lifecycle: the happy path, redelivery, skipped states and expiry', () => {
  assert.deepEqual(transition('awaiting_approval', { type: 'approve' }), { ok: true, status: 'pending', changed: true });
  assert.deepEqual(transition('pending', { type: 'deliver' }), { ok: true, status: 'delivered', changed: true });
  assert.deepEqual(transition('delivered', { type: 'deliver' }), { ok: true, status: 'delivered', changed: false });
  assert.deepEqual(transition('running', { type: 'deliver' }), { ok: true, status: 'running', changed: false });
  assert.deepEqual(transition('delivered', { type: 'report', status: 'running' }), { ok: true, status: 'running', changed: true });
  assert.deepEqual(transition('pending', { type: 'report', status: 'succeeded' }), { ok: true, status: 'succeeded', changed: true });
  assert.deepEqual(transition('running', { type: 'report', status: 'failed' }), { ok: true, status: 'failed', changed: true });
  for (const s of ['awaiting_approval', 'pending', 'delivered', 'running'] as const) {
    assert.deepEqual(transition(s, { type: 'expire' }), { ok: true, status: 'expired', changed: true });
  }
});

test('lifecycle: terminal states never change; a repeated report is a no-op', () => {
  assert.deepEqual(transition('succeeded', { type: 'report', status: 'succeeded' }), { ok: true, status: 'succeeded', changed: false });
  assert.equal(transition('succeeded', { type: 'report', status: 'failed' }).ok, false);
  assert.equal(transition('expired', { type: 'report', status: 'succeeded' }).ok, false);
  assert.equal(transition('failed', { type: 'expire' }).ok, false);
  assert.equal(transition('succeeded', { type: 'deliver' }).ok, false);
  assert.equal(transition('pending', { type: 'approve' }).ok, false);
  const refused = transition('awaiting_approval', { type: 'report', status: 'running' });
  assert.deepEqual(refused, { ok: false, reason: 'cannot report running a command that is awaiting_approval' });
});

test('parameters are validated with precise errors', () => {
  assert.throws(() => parseParams('kill_process', { pid: 'x' }), /pid must be an integer/);
  assert.throws(() => parseParams('kill_process', { pid: 1 }), /pid must be an integer in \[2/);
  assert.throws(() => parseParams('kill_process', { pid: 99, start_time: 'soon' }), /start_time must be/);
  assert.throws(() => parseParams('kill_process', { pid: 99, entity_id: 'e', signal: 'SIGSEGV' }), /signal must be one of/);
  assert.deepEqual(parseParams('kill_process', { pid: 99, start_time: '2026-02-15T12:35:00.120Z' }), { pid: 99, signal: 'SIGKILL', start_time_ms: Date.parse('2026-02-15T12:35:00.120Z') });
  assert.throws(() => parseParams('collect_triage', { paths: ['relative/path'] }), /absolute path/);
  assert.throws(() => parseParams('collect_triage', { paths: ['/tmp'], artifact_name: '../escape' }), /artifact_name/);
  assert.deepEqual(parseParams('collect_triage', { paths: ['/tmp'], artifact: 'triage', max_size_mb: 2 }), { paths: ['/tmp'], artifact_name: 'triage', max_bytes: 2 * 1048576 });
  assert.throws(() => parseParams('isolate', { dns: ['8.8.8.8; flush ruleset'] }), /dns must be a list/);
  assert.throws(() => parseParams('isolate', []), /params must be an object/);
});

test('the isolation ruleset: its own inet table, drop policy, v4 and v6 allow-lists, nothing else', () => {
  const text = isolationScript({ managementAddresses: ['192.0.2.1', '2001:db8::1'], managementPort: 8443, dns: ['192.0.2.53'] });
  assert.match(text, /^table inet vigil_isolation\ndelete table inet vigil_isolation\ntable inet vigil_isolation \{/);
  assert.equal(text.match(/policy drop;/g)?.length, 3);
  assert.match(text, /ip saddr \{ 192\.0\.2\.1 \} tcp sport 8443 accept/);
  assert.match(text, /ip6 daddr \{ 2001:db8::1 \} tcp dport 8443 accept/);
  assert.match(text, /ip daddr \{ 192\.0\.2\.53 \} udp dport 53 accept/);
  assert.doesNotMatch(text, /ip6 daddr \{[^}]*\} udp dport 53/, 'no v6 resolver configured: no v6 DNS rule');
  assert.doesNotMatch(text, /ct state/, 'established connections to other hosts are not kept');
  assert.throws(() => isolationScript({ managementAddresses: ['evil.example; flush ruleset'], managementPort: 1, dns: [] }), /not an IP address/);
  assert.throws(() => isolationScript({ managementAddresses: [], managementPort: 1, dns: [] }), /no management address/);
  const served = isolationScript({ managementAddresses: ['127.0.0.1'], managementPort: 8443, dns: [], servedPorts: [8440, 8443] });
  assert.match(served, /tcp dport \{ 8440, 8443 \} accept/);
  assert.match(served, /tcp sport \{ 8440, 8443 \} accept/);
  assert.throws(() => isolationScript({ managementAddresses: ['127.0.0.1'], managementPort: 8443, dns: [], servedPorts: [0] }), /not a port: 0/);
  assert.equal(releaseScript(), 'table inet vigil_isolation\ndelete table inet vigil_isolation\n');
});

function alert(level: Alert['rule']['level'], extra: Partial<Alert> = {}): Alert {
  return {
    id: 'al-1', tenant_id: 't1', host_id: 'agt-1', process_entity_id: 'ENTITY', mitre: [], event_ids: ['e1'],
    rule: { id: 'r-1', title: 'reverse shell', level, references: [], type: 'single', owner: { kind: 'tenant', tenant_id: 't1' } },
    events: [{ process: { pid: 4242, entity_id: 'ENTITY' } }], first_seen: '', last_seen: '', ...extra,
  };
}

test('automated response: the policy decides, kill targets the matching process by PID and entity id', () => {
  const on = { ...DEFAULT_AUTO_RESPONSE_POLICY, enabled: true };
  assert.deepEqual(planAutoResponse(alert('high'), { action: 'kill_process' }, on, 0),
    { run: true, hostId: 'agt-1', action: 'kill_process', params: { signal: 'SIGKILL', pid: 4242, entity_id: 'ENTITY' } });
  assert.match((planAutoResponse(alert('high'), { action: 'kill_process' }, DEFAULT_AUTO_RESPONSE_POLICY, 0) as any).reason, /disabled/);
  assert.match((planAutoResponse(alert('medium'), { action: 'kill_process' }, on, 0) as any).reason, /below high/);
  assert.match((planAutoResponse(alert('critical'), { action: 'isolate' }, on, 0) as any).reason, /not allowed unattended/);
  assert.match((planAutoResponse(alert('critical'), { action: 'kill_process' }, on, 5) as any).reason, /rate limit/);
  assert.match((planAutoResponse(alert('critical', { events: [], process_entity_id: undefined }), { action: 'kill_process' }, on, 0) as any).reason, /no process/);
  assert.match((planAutoResponse(alert('critical'), { action: 'kill_process' }, { ...on, excludedHosts: ['agt-1'] }, 0) as any).reason, /excluded/);
});

test('automated response: the hook files the command as the rule and rate-limits per host', async () => {
  const filed: unknown[] = [];
  const responder = new AutoResponder({ request: async (who, hostId, action, params) => { filed.push({ who, hostId, action, params }); return {} as CommandRecord; } },
    { enabled: true, maxPerHostPerHour: 2 });
  assert.ok('command' in await responder.onAlert(alert('high'), { action: 'kill_process' }));
  assert.ok('command' in await responder.onAlert(alert('high'), { action: 'kill_process' }));
  assert.deepEqual(await responder.onAlert(alert('high'), { action: 'kill_process' }), { skipped: 'rate limit of 2 per host per hour reached' });
  assert.deepEqual((filed[0] as any).who, { actor: 'rule:r-1', tenantId: 't1', requestId: 'alert:al-1' });
});

test('the management endpoint is parsed from the agent\'s server address, IPv6 included', () => {
  assert.deepEqual(parseServerAddress('vigil.example:8443'), { host: 'vigil.example', port: 8443 });
  assert.deepEqual(parseServerAddress('[2001:db8::1]:8443'), { host: '2001:db8::1', port: 8443 });
  assert.throws(() => parseServerAddress('no-port'), /expected HOST:PORT/);
});

test('isolation state on file follows what nft enforced: a failed apply leaves the previous state', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-isolation-state-'));
  try {
    const spec = { managementAddresses: ['192.0.2.1'], managementPort: 8443, dns: [] };
    const failing = new IsolationController(dir, async () => { throw new Error('nft failed (exit 1): Operation not permitted'); });
    await assert.rejects(failing.isolate(spec), /Operation not permitted/);
    assert.equal(failing.current.isolated, false);
    const scripts: string[] = [];
    const working = new IsolationController(dir, async (script) => { scripts.push(script); });
    assert.equal(working.current.isolated, false);
    await working.isolate(spec, 'ir-1');
    assert.equal(new IsolationController(dir).current.isolated, true, 'persisted for the next start');
    const restarted = new IsolationController(dir, async (script) => { scripts.push(script); });
    await restarted.restore();
    assert.equal(scripts.length, 2);
    assert.equal(scripts[1], scripts[0], 'the restart re-applies the same ruleset');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
