// The exception matcher (src/detect/exceptions.ts): dotted paths into the alert's matching event, the four
// operators, list fields, missing fields, host scope, rule, tenant, expiry, correlations, and building conditions
// from an alert.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Alert } from '../../src/detect/alerts.ts';
import {
  conditionHolds, conditionsFromAlert, exceptionMatches, fieldProblem, fieldValue, matchingException, type AlertException, type ExceptionCondition,
} from '../../src/detect/exceptions.ts';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const event = {
  event: { id: 'e1', type: 'process_start' },
  process: { executable: '/usr/bin/rsync', command_line: 'rsync -a /srv backup:/', args: ['rsync', '-a', '/srv'], pid: 4242,
    parent: { executable: '/usr/sbin/cron' } },
  user: { name: 'backup' }, destination: { ip: '10.0.0.5', port: 873 }, file: { path: '/srv/data' },
};
const alert = (o: Partial<Alert> = {}): Alert => ({
  id: 'a1', tenant_id: 't', host_id: 'h1', rule: { id: 'r1', title: 'R', level: 'high', references: [], type: 'single' },
  mitre: [], events: [event], event_ids: ['e1'], first_seen: NOW.toISOString(), last_seen: NOW.toISOString(), ...o,
});
const exception = (o: Partial<AlertException> = {}): AlertException => ({
  id: 'exc_1', tenant_id: 't', rule_id: 'r1', conditions: [], scope: {}, reason: 'r', expires_at: null, source_alert_id: null,
  created_by: 'u', created_at: NOW.toISOString(), updated_by: 'u', updated_at: NOW.toISOString(), ...o,
});
const c = (field: string, op: ExceptionCondition['op'], value: string): ExceptionCondition => ({ field, op, value });

test('dotted paths reach nested fields; absent paths and prototype keys are undefined', () => {
  assert.equal(fieldValue(event, 'process.parent.executable'), '/usr/sbin/cron');
  assert.equal(fieldValue(event, 'destination.port'), 873);
  assert.equal(fieldValue(event, 'process.nope.deeper'), undefined);
  assert.equal(fieldValue(event, 'process.executable.length'), undefined, 'no walking into a string');
  assert.equal(fieldValue(event, 'constructor'), undefined);
  assert.equal(fieldValue(event, 'process.__proto__'), undefined);
});

test('operators: equals, contains, startswith, endswith; case-sensitive; numbers as text; any element of a list', () => {
  assert.ok(conditionHolds(event, c('process.executable', 'equals', '/usr/bin/rsync')));
  assert.ok(!conditionHolds(event, c('process.executable', 'equals', '/usr/bin/RSYNC')));
  assert.ok(!conditionHolds(event, c('process.executable', 'equals', '/usr/bin/rsyn')));
  assert.ok(conditionHolds(event, c('process.command_line', 'contains', '/srv backup')));
  assert.ok(conditionHolds(event, c('file.path', 'startswith', '/srv/')));
  assert.ok(!conditionHolds(event, c('file.path', 'startswith', '/tmp/')));
  assert.ok(conditionHolds(event, c('user.name', 'endswith', 'kup')));
  assert.ok(conditionHolds(event, c('destination.ip', 'equals', '10.0.0.5')));
  assert.ok(conditionHolds(event, c('destination.port', 'equals', '873')));
  assert.ok(conditionHolds(event, c('process.args', 'equals', '-a')));
  assert.ok(!conditionHolds(event, c('process.args', 'equals', '-z')));
  assert.ok(!conditionHolds(event, c('process.parent', 'contains', 'cron')), 'an object never matches');
  assert.ok(!conditionHolds(event, c('source.ip', 'startswith', '')), 'a missing field never matches');
});

test('an exception applies when rule, tenant, scope, expiry and every condition hold', () => {
  const a = alert();
  const conditions = [c('process.executable', 'equals', '/usr/bin/rsync'), c('process.parent.executable', 'equals', '/usr/sbin/cron')];
  assert.ok(exceptionMatches(exception({ conditions }), a, NOW));
  assert.ok(!exceptionMatches(exception({ conditions: [...conditions, c('user.name', 'equals', 'root')] }), a, NOW), 'all conditions must hold');
  assert.ok(!exceptionMatches(exception({ conditions, rule_id: 'r2' }), a, NOW), 'another rule');
  assert.ok(!exceptionMatches(exception({ conditions, tenant_id: 'other' }), a, NOW), 'another tenant');
  assert.ok(exceptionMatches(exception({ conditions, scope: { host_ids: ['h0', 'h1'] } }), a, NOW));
  assert.ok(!exceptionMatches(exception({ conditions, scope: { host_ids: ['h2'] } }), a, NOW), 'host out of scope');
  assert.ok(exceptionMatches(exception({ conditions, scope: { host_ids: [] } }), a, NOW), 'an empty scope is every host');
  assert.ok(exceptionMatches(exception({ expires_at: '2026-03-01T12:00:00.001Z' }), a, NOW));
  assert.ok(!exceptionMatches(exception({ expires_at: NOW.toISOString() }), a, NOW), 'expired at its expiry');
  const correlation = alert({ events: [], rule: { ...a.rule, type: 'event_count' } });
  assert.ok(exceptionMatches(exception(), correlation, NOW), 'no conditions: the rule on the scoped hosts, correlations included');
  assert.ok(!exceptionMatches(exception({ conditions }), correlation, NOW), 'a correlation has no event to hold conditions');
  assert.equal(matchingException([exception({ id: 'x', rule_id: 'r9' }), exception({ id: 'y', conditions }), exception({ id: 'z' })], a, NOW)?.id, 'y');
  assert.equal(matchingException([], a, NOW), undefined);
});

test('conditions from an alert: its values, equals by default; a missing or non-scalar field is a RangeError naming it', () => {
  assert.deepEqual(conditionsFromAlert(alert(), ['process.executable', 'destination.port']), [
    c('process.executable', 'equals', '/usr/bin/rsync'), c('destination.port', 'equals', '873'),
  ]);
  assert.deepEqual(conditionsFromAlert(alert(), ['user.name'], 'startswith'), [c('user.name', 'startswith', 'backup')]);
  assert.throws(() => conditionsFromAlert(alert(), ['process.hash.sha256']), /no field 'process.hash.sha256'/);
  assert.throws(() => conditionsFromAlert(alert(), ['process.args']), /not a single value/);
  assert.throws(() => conditionsFromAlert(alert({ events: [] }), ['process.executable']), /no field/);
  assert.throws(() => conditionsFromAlert(alert(), ['a..b']), RangeError);
});

test('field paths: dotted keys only, no reserved keys', () => {
  assert.equal(fieldProblem('process.parent.executable'), undefined);
  assert.equal(fieldProblem('@timestamp'), undefined);
  assert.match(fieldProblem('process..x')!, /dotted path/);
  assert.match(fieldProblem('process.__proto__')!, /reserved/);
  assert.match(fieldProblem('')!, /1–200/);
});
