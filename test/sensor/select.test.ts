// Sensor selection: eBPF only with root, BTF and a built sensor; otherwise, or when the sensor fails to
// start, the /proc sensor, whose health says why. The unprivileged case runs a real agent-side process
// as an unprivileged user and checks it still delivers process starts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ebpfUnavailableReason, selectSensor } from '../../src/agent/sensors/select.ts';

const ALL = { isRoot: true, hasBtf: true, binaryRunnable: true };
const NOBODY = 65534;

test('eBPF needs root, kernel BTF and the built binary, and says which is missing', () => {
  assert.equal(ebpfUnavailableReason(ALL, '/x'), undefined);
  assert.match(ebpfUnavailableReason({ ...ALL, isRoot: false }, '/x')!, /needs root/);
  assert.match(ebpfUnavailableReason({ ...ALL, hasBtf: false }, '/x')!, /needs kernel BTF/);
  assert.match(ebpfUnavailableReason({ ...ALL, binaryRunnable: false }, '/x')!, /\/x missing; run make -C sensor/);
});

test('auto selection falls back to /proc with the reason in its health; explicit eBPF refuses instead', async () => {
  const sensor = await selectSensor({ environment: { ...ALL, hasBtf: false } });
  assert.equal(sensor.mode, 'proc');
  assert.match(sensor.health().detail!, /^eBPF sensor needs kernel BTF .*; polling /);
  await assert.rejects(selectSensor({ prefer: 'ebpf', environment: { ...ALL, isRoot: false } }), /needs root/);
  assert.equal((await selectSensor({ prefer: 'proc' })).mode, 'proc');
});

test('an eBPF sensor that fails to start falls back to /proc and reports why', async () => {
  const sensor = await selectSensor({ environment: ALL, sensorBinary: '/bin/false' });
  assert.equal(sensor.mode, 'ebpf');
  await sensor.start(() => {});
  try {
    assert.equal(sensor.mode, 'proc');
    assert.match(sensor.health().detail!, /^eBPF sensor failed to start: vigil-sensor exited \(code 1\)/);
  } finally {
    await sensor.stop();
  }
});

test('an unreachable sensor socket falls back to /proc, whatever the privileges', async () => {
  const sensor = await selectSensor({ sensorSocket: '/nonexistent/vigil.sock', environment: { ...ALL, isRoot: false } });
  await sensor.start(() => {});
  try {
    assert.equal(sensor.mode, 'proc');
    assert.match(sensor.health().detail!, /^eBPF sensor failed to start: cannot read vigil-sensor at \/nonexistent\/vigil.sock/);
  } finally {
    await sensor.stop();
  }
});

// Run as an unprivileged user: select, start, spawn a process living 1 s, report what was seen.
const UNPRIVILEGED_AGENT = `
const { selectSensor } = await import(${JSON.stringify(new URL('../../src/agent/sensors/select.ts', import.meta.url).href)});
const { spawn } = await import('node:child_process');
const sensor = await selectSensor();
const starts = [];
await sensor.start((o) => { if (o.type === 'process_start') starts.push(o); });
const child = spawn('/bin/sleep', ['1']);
await new Promise((r) => child.on('exit', r));
await new Promise((r) => setTimeout(r, 300));
await sensor.stop();
console.log(JSON.stringify({ uid: process.getuid(), mode: sensor.mode, detail: sensor.health().detail,
  sawChild: starts.some((o) => o.pid === child.pid && o.args?.[0] === '/bin/sleep') }));
`;

test('without privileges the agent reports /proc mode and still delivers process starts', () => {
  const asRoot = process.getuid?.() === 0;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', UNPRIVILEGED_AGENT], {
    encoding: 'utf8', timeout: 20_000, cwd: '/', ...(asRoot ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
  assert.notEqual(out.uid, 0);
  assert.equal(out.mode, 'proc');
  assert.match(out.detail, /^eBPF sensor needs root; polling \/proc/);
  assert.equal(out.sawChild, true);
});
