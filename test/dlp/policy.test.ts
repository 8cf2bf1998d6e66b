// The `dlp` section of agent policy documents: defaults, bounds with precise errors, which policy governs a file,
// MITRE exfiltration tags; and the event schema's dlp fields (validated, bounded).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DETECTOR_IDS } from '../../src/dlp/detectors.ts';
import { dlpPolicyOf, exfiltrationTechniques, governingPolicy } from '../../src/dlp/policy.ts';
import { validateEvent } from '../../src/schema/validate.ts';

test('a dlp section gives a policy with defaults; no section, none', () => {
  assert.deepEqual(dlpPolicyOf('base', 1, { batch_events: 10 }), { policy: null, errors: [] });
  const { policy, errors } = dlpPolicyOf('dlp-finance', 3, { dlp: { paths: ['/srv/share'], action: 'record' } });
  assert.deepEqual(errors, []);
  assert.equal(policy!.version, 3);
  assert.deepEqual(policy!.detectors, [...DETECTOR_IDS]);
  assert.equal(policy!.action, 'record');
  assert.equal(policy!.severity, 'high');
  assert.equal(policy!.maxFileBytes, 16 * 2 ** 20);
});

test('bad values are reported precisely and left at their defaults', () => {
  const { policy, errors } = dlpPolicyOf('p', 1, { dlp: { detectors: ['payment_card', 'nope'], max_file_bytes: 5, action: 'block', severity: 'huge', paths: 'x' } });
  assert.deepEqual(policy!.detectors, ['payment_card']);
  assert.deepEqual(new Set(errors), new Set([
    'dlp.paths must be a list of at most 256 non-empty strings', 'dlp.detectors: unknown nope',
    'dlp.max_file_bytes must be an integer in [1024, 2147483648]', "dlp.action must be 'record' or 'alert'",
    'dlp.severity must be one of low, medium, high, critical',
  ]));
  assert.deepEqual(dlpPolicyOf('p', 1, { dlp: [] }).errors, ['dlp must be an object']);
  assert.equal(dlpPolicyOf('p', 1, { dlp: { enabled: false } }).policy, null);
});

test('the governing policy: first in name order whose paths and processes match', () => {
  const a = dlpPolicyOf('a-uploads', 1, { dlp: { paths: ['/tmp/out'], processes: ['curl'] } }).policy!;
  const b = dlpPolicyOf('b-share', 1, { dlp: { paths: ['/srv/share/'], exclude_paths: ['/srv/share/public'] } }).policy!;
  assert.equal(governingPolicy([b, a], '/tmp/out/x.csv', 'curl'), a);
  assert.equal(governingPolicy([b, a], '/tmp/out/x.csv', 'vim'), undefined);
  assert.equal(governingPolicy([b, a], '/tmp/outside', 'curl'), undefined);
  assert.equal(governingPolicy([b, a], '/srv/share/q3.xlsx', 'cp'), b);
  assert.equal(governingPolicy([b, a], '/srv/share/public/x', 'cp'), undefined);
});

test('MITRE exfiltration tags follow the writing process and the medium', () => {
  assert.deepEqual(exfiltrationTechniques('scp', '/tmp/x'), ['T1048']);
  assert.deepEqual(exfiltrationTechniques('rclone', '/tmp/x'), ['T1567']);
  assert.deepEqual(exfiltrationTechniques('cp', '/media/usb0/x'), ['T1052']);
  assert.deepEqual(exfiltrationTechniques('vim', '/home/a/x'), ['T1074.001']);
});

test('events carry dlp fields, validated and bounded', () => {
  const base = { '@timestamp': '2026-12-08T00:00:00.000Z', agent: { id: 'a', tenant_id: 't' }, event: { id: 'e', type: 'file_write', action: 'dlp_match' } };
  assert.equal(validateEvent({ ...base, dlp: { policy: 'p', rule: 'payment_card', kind: 'detector', matches: 3, confidence: 95, excerpts: ['4111 **** **** 1111'], action: 'alert', severity: 'high' } }).ok, true);
  assert.equal(validateEvent({ ...base, dlp: { confidence: 101 } }).ok, false);
  assert.equal(validateEvent({ ...base, dlp: { action: 'block' } }).ok, false);
});
