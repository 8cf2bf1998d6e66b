// Incident grouping, pure: which lineage links count (an attack chain's shell yes; pid 1, sshd, systemd, cron,
// container runtimes no), the time window, correlations (their events first, then their host), the choice among
// several incidents, severity and titles.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  alertFacts, chooseIncident, incidentTitle, isLongLivedRoot, keysOf, lineageKeys, maxLevel, WINDOW_MS, withinWindow, type Candidate,
} from '../../src/incidents/grouping.ts';
import type { Alert } from '../../src/detect/alerts.ts';
import type { ProcessSummary } from '../../src/tree/live-index.ts';

function proc(entity: string, pid: number, ppid: number, executable: string, command_line = executable): ProcessSummary {
  return { entity_id: entity, pid, ppid, parent_entity_id: '', executable, command_line, start: '2026-12-01T10:00:00.000Z', exit: null, user_name: 'u', user_id: '1000' };
}

const init = proc('e-init', 1, 0, '/usr/lib/systemd/systemd', '/sbin/init');
const sshd = proc('e-sshd', 800, 1, '/usr/sbin/sshd', 'sshd: /usr/sbin/sshd -D [listener]');
const session = proc('e-sshd-session', 900, 800, '/usr/sbin/sshd', 'sshd: mallory [priv]');
const bash = proc('e-bash', 1000, 900, '/bin/bash', '-bash');

function alert(id: string, p: ProcessSummary | undefined, ancestors: ProcessSummary[], at = '2026-12-01T10:00:00.000Z', level: Alert['rule']['level'] = 'high', type: Alert['rule']['type'] = 'single'): Alert {
  return {
    id, tenant_id: 't1', host_id: 'h1', process_entity_id: p?.entity_id, rule: { id: `r-${id}`, title: `Rule ${id}`, level, references: [], type },
    mitre: [], events: [{ host: { hostname: 'web-1' } } as never], event_ids: [`ev-${id}`], first_seen: at, last_seen: at, process: p, ancestors,
  };
}

test('long-lived roots: pid 0/1/2 and kernel threads, init and service, session and container managers; a shell is not', () => {
  for (const p of [init, sshd, session, proc('k', 55, 2, ''), proc('c', 300, 1, '/usr/sbin/cron'), proc('d', 301, 1, '/usr/bin/containerd-shim-runc-v2'),
    proc('s', 302, 1, '/usr/lib/systemd/systemd-journald'), proc('t', 303, 1, '/usr/bin/tmux', 'tmux: server'), proc('x', 304, 1, '')]) {
    assert.equal(isLongLivedRoot(p), true, `${p.executable || p.entity_id}`);
  }
  for (const p of [bash, proc('py', 1200, 1000, '/usr/bin/python3'), proc('nginx', 400, 1, '/usr/sbin/nginx'), proc('sh', 1201, 1200, '/bin/sh')]) {
    assert.equal(isLongLivedRoot(p), false, p.executable);
  }
});

test('lineage keys: the process and its meaningful ancestors, root first, without pid 1, sshd or duplicates', () => {
  const nc = proc('e-nc', 1002, 1001, '/usr/bin/nc');
  const sub = proc('e-sub', 1001, 1000, '/bin/bash');
  assert.deepEqual(lineageKeys({ process: nc, ancestors: [init, sshd, session, bash, sub] }), ['e-bash', 'e-sub', 'e-nc']);
  assert.deepEqual(lineageKeys({ process: undefined, ancestors: undefined, process_entity_id: 'e-only' }), ['e-only'], 'a process the index did not know');
  assert.deepEqual(lineageKeys({ process: init, ancestors: [] }), [], 'an alert about pid 1 links nothing');
});

test('facts and keys: lineage keys on the host, event keys on no host; correlations have no lineage', () => {
  const f = alertFacts(alert('a', proc('e-nc', 1002, 1000, '/usr/bin/nc'), [init, bash]));
  assert.equal(f.hostname, 'web-1');
  assert.deepEqual(keysOf(f), [{ host_id: 'h1', key: 'p:e-bash' }, { host_id: 'h1', key: 'p:e-nc' }, { host_id: '', key: 'e:ev-a' }]);
  const c = alertFacts(alert('c', undefined, [], undefined, 'critical', 'event_count'));
  assert.equal(c.correlation, true);
  assert.deepEqual(c.lineage, []);
});

const cand = (id: string, last: string, via: Candidate['via'] = 'key', first = last, created = first): Candidate => ({ id, first_seen: first, last_seen: last, created_at: created, via });

test('window: within 2 h of the incident\'s span either way joins; beyond it opens a new incident', () => {
  const f = alertFacts(alert('a', bash, [], '2026-12-01T12:00:00.000Z'));
  assert.equal(chooseIncident(f, [cand('i1', new Date(Date.parse('2026-12-01T12:00:00.000Z') - WINDOW_MS).toISOString())]), 'i1', 'exactly 2 h after its last activity');
  assert.equal(chooseIncident(f, [cand('i1', new Date(Date.parse('2026-12-01T12:00:00.000Z') - WINDOW_MS - 1).toISOString())]), undefined, 'just beyond');
  assert.equal(withinWindow(f, { first_seen: '2026-12-01T13:30:00.000Z', last_seen: '2026-12-01T14:00:00.000Z' }), true, 'an alert arriving late, before the incident');
  assert.equal(withinWindow(f, { first_seen: '2026-12-01T14:00:01.000Z', last_seen: '2026-12-01T15:00:00.000Z' }), false);
});

test('choice: a single-event alert joins only through a shared key; the most recently active incident wins', () => {
  const f = alertFacts(alert('a', bash, [], '2026-12-01T12:00:00.000Z'));
  assert.equal(chooseIncident(f, []), undefined);
  assert.equal(chooseIncident(f, [cand('host-only', '2026-12-01T11:59:00.000Z', 'host')]), undefined, 'same host is not enough for a process alert');
  assert.equal(chooseIncident(f, [cand('older', '2026-12-01T11:00:00.000Z'), cand('newer', '2026-12-01T11:30:00.000Z')]), 'newer');
  assert.equal(chooseIncident(f, [cand('b', '2026-12-01T11:00:00.000Z', 'key', '2026-12-01T10:00:00.000Z', '2026-12-01T10:00:01.000Z'),
    cand('a', '2026-12-01T11:00:00.000Z', 'key', '2026-12-01T10:00:00.000Z', '2026-12-01T10:00:00.000Z')]), 'a', 'ties: the oldest');
});

test('choice: a correlation joins the incident of its events first, else its host\'s most recently active', () => {
  const f = alertFacts(alert('c', undefined, [], '2026-12-01T12:00:00.000Z', 'critical', 'temporal'));
  assert.equal(chooseIncident(f, [cand('host-new', '2026-12-01T11:59:00.000Z', 'host'), cand('by-event', '2026-12-01T11:00:00.000Z', 'key')]), 'by-event');
  assert.equal(chooseIncident(f, [cand('host-old', '2026-12-01T11:00:00.000Z', 'host'), cand('host-new', '2026-12-01T11:59:00.000Z', 'host')]), 'host-new');
  assert.equal(chooseIncident(f, [cand('stale', '2026-12-01T08:00:00.000Z', 'host')]), undefined, 'outside the window: a new incident');
});

test('severity is the highest level; the title names the top alert, its host and how many more', () => {
  assert.equal(maxLevel(['low', 'critical', 'medium']), 'critical');
  assert.equal(maxLevel([]), 'informational');
  const a = (title: string, level: Alert['rule']['level'], at: string, host = 'h1') => ({ rule_title: title, level, first_seen: at, hostname: host === 'h1' ? 'web-1' : 'db-1', host_id: host });
  assert.equal(incidentTitle([a('Low thing', 'low', '1'), a('Netcat', 'high', '2'), a('Later high', 'high', '3')]), 'Netcat on web-1 (+2 alerts)');
  assert.equal(incidentTitle([a('Netcat', 'high', '2')]), 'Netcat on web-1');
  assert.equal(incidentTitle([a('Netcat', 'high', '2'), a('Other', 'low', '3', 'h2')]), 'Netcat on web-1 and 1 other host (+1 alert)');
});
