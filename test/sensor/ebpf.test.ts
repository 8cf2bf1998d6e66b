// The eBPF sensor against the real kernel: exec completeness under a storm, network, file, privilege
// and fileless-exec events, the self filter, enrichment of exec events from the process cache, and the
// restart of a killed sensor. Needs root, kernel BTF and a built sensor (make -C sensor); skipped
// with the reason otherwise.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { EbpfSensor } from '../../src/agent/sensors/ebpf/index.ts';
import { DEFAULT_SENSOR_BINARY, detectEnvironment, ebpfUnavailableReason, seedFromProc } from '../../src/agent/sensors/select.ts';
import { ProcessCache } from '../../src/agent/process-cache.ts';
import { buildEvent, createBuildContext } from '../../src/agent/events.ts';
import type { Observation } from '../../src/agent/sensor.ts';

const TRIGGER = join(DEFAULT_SENSOR_BINARY, '..', 'vigil-trigger');
const NOOP = join(DEFAULT_SENSOR_BINARY, '..', 'vigil-noop');
const skip = ebpfUnavailableReason(detectEnvironment(DEFAULT_SENSOR_BINARY), DEFAULT_SENSOR_BINARY)
  ?? ([TRIGGER, NOOP].find((f) => !existsSync(f)) ? `${TRIGGER} or ${NOOP} not built (make -C sensor)` : undefined);

const STORM = 2000;
const execFileAsync = promisify(execFile);

function trigger(...args: string[]): { pid: number; [k: string]: number } {
  return JSON.parse(execFileSync(TRIGGER, args, { encoding: 'utf8' }));
}

test('the sensor refuses a --flush-ms outside 1 to 1000 ms, before loading anything', { skip: existsSync(DEFAULT_SENSOR_BINARY) ? undefined : 'sensor not built' }, () => {
  for (const bad of ['0', '1001', '2x']) {
    const r = spawnSync(DEFAULT_SENSOR_BINARY, ['--flush-ms', bad], { encoding: 'utf8' });
    assert.equal(r.status, 2, `--flush-ms ${bad}`);
    assert.match(r.stderr, bad === '1001' ? /--flush-ms must be 1 to 1000/ : /bad number/);
  }
});

describe('eBPF sensor on the running kernel', { skip }, () => {
  let sensor: EbpfSensor;
  let seen: Observation[] = [];
  const waitFor = async <T>(what: string, find: () => T | undefined, timeoutMs = 10_000): Promise<T> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined && found !== false) return found;
      if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const ofPid = (pid: number, type: string) => seen.filter((o) => o.pid === pid && o.type === type);

  before(async () => {
    sensor = new EbpfSensor({ binary: DEFAULT_SENSOR_BINARY, minBackoffMs: 100 });
    await sensor.start((o) => seen.push(o));
  });
  after(() => sensor.stop());

  test(`exec storm: all ${STORM} short-lived processes are seen, with their parent and a unique argv marker`, async () => {
    seen = [];
    const marker = `vigil-storm-${process.pid}-${Date.now()}`;
    const storm = trigger('storm', '1000000', String(STORM / 1_000_000), marker);
    assert.equal(storm.started, STORM);
    const starts = () => seen.filter((o) => o.type === 'process_start' && o.args?.[1]?.startsWith(`${marker}-`));
    await waitFor(`${STORM} execs`, () => starts().length >= STORM || undefined);
    const markers = new Set(starts().map((o) => o.args![1]));
    assert.equal(markers.size, STORM);
    for (const o of starts()) {
      assert.equal(o.ppid, storm.pid, `parent of ${o.pid}`);
      assert.equal(o.executable, '/usr/bin/true');
    }
    assert.equal(seen.filter((o) => o.type === 'process_fork' && o.ppid === storm.pid).length, STORM);
    await waitFor('exits', () => seen.filter((o) => o.type === 'process_end' && o.ppid === storm.pid).length >= STORM || undefined);
    assert.equal(sensor.counters().kernelDrops, 0);
    console.log(`storm: ${Math.round(storm.rate)} exec/s`);
  });

  test('a storm of 5,000 exec/s for 2 s (vigil-noop, no loader) is seen whole, fork, exec and exit', async () => {
    seen = [];
    const marker = `vigil-noop-storm-${process.pid}-${Date.now()}`;
    // Not execFileSync: this process reads the sensor's pipe, and must go on reading during the storm.
    const storm = JSON.parse((await execFileAsync(TRIGGER, ['storm', '5000', '2', marker, NOOP], { encoding: 'utf8' })).stdout);
    assert.equal(storm.started, 10_000);
    const ofStorm = (type: string) => seen.filter((o) => o.type === type && o.ppid === storm.pid);
    await waitFor('10,000 exits', () => ofStorm('process_end').length >= 10_000 || undefined, 30_000);
    const markers = new Set(ofStorm('process_start').map((o) => o.args?.[1]));
    assert.equal(markers.size, 10_000);
    assert.ok([...markers].every((m) => m?.startsWith(`${marker}-`)));
    assert.equal(ofStorm('process_fork').length, 10_000);
    assert.equal(sensor.counters().kernelDrops, 0);
    console.log(`noop storm: ${Math.round(storm.rate)} exec/s`);
  });

  test('a reader that stops reading during a storm loses nothing: the sensor queues frames while the pipe is full', async () => {
    seen = [];
    const marker = `vigil-stalled-reader-${process.pid}-${Date.now()}`;
    // execFileSync blocks this process, the sensor's reader, for the 2 s of the storm: ≈ 4 MB of frames
    // against a 64 KiB pipe. Before frames were queued in the sensor, its blocked write stopped it from
    // draining the 2 MiB kernel ring, which overflowed (15,250 records dropped in this very test).
    const storm = trigger('storm', '5000', '2', marker, NOOP);
    assert.equal(storm.started, 10_000);
    const ofStorm = (type: string) => seen.filter((o) => o.type === type && o.ppid === storm.pid);
    await waitFor('10,000 exits', () => ofStorm('process_end').length >= 10_000 || undefined, 30_000);
    assert.equal(new Set(ofStorm('process_start').map((o) => o.args?.[1])).size, 10_000);
    assert.equal(sensor.counters().kernelDrops, 0);
  });

  for (const family of ['4', '6']) {
    test(`TCP connect and accept over IPv${family} carry both ports`, async () => {
      const t = trigger('tcp', family);
      const loopback = family === '4' ? '127.0.0.1' : '::1';
      const [connect] = await waitFor('connect', () => ofPid(t.pid, 'network_connection').at(0) && ofPid(t.pid, 'network_connection'));
      assert.deepEqual([connect.srcIp, connect.srcPort, connect.dstIp, connect.dstPort, connect.result, connect.family],
        [loopback, t.clientPort, loopback, t.serverPort, 0, `ipv${family}`]);
      const [accept] = await waitFor('accept', () => ofPid(t.pid, 'network_accept').at(0) && ofPid(t.pid, 'network_accept'));
      assert.deepEqual([accept.srcPort, accept.dstPort, accept.direction], [t.clientPort, t.serverPort, 'inbound']);
    });
  }

  test('UDP: one event per new peer', async () => {
    const t = trigger('udp', '9');
    await waitFor('exit', () => ofPid(t.pid, 'process_end').at(0));
    const sends = ofPid(t.pid, 'network_send');
    assert.equal(sends.length, 1);
    assert.deepEqual([sends[0].transport, sends[0].dstIp, sends[0].dstPort], ['udp', '127.0.0.1', 9]);
  });

  test('writing, renaming, chmod and deleting a temporary file show up with full paths', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-sensor-'));
    try {
      execFileSync('sh', ['-c', 'mkdir sub && cd sub && echo x > ../a && mv ../a b && chmod 640 b && rm ./b'], { cwd: dir });
      const path = (type: string) => waitFor(type, () => seen.find((o) => o.type === type && o.path?.startsWith(dir)));
      assert.equal((await path('file_create')).path, join(dir, 'a'));
      const rename = await path('file_rename');
      assert.deepEqual([rename.path, rename.targetPath], [join(dir, 'a'), join(dir, 'sub', 'b')]);
      const chmod = await path('file_chmod');
      assert.deepEqual([chmod.path, chmod.mode], [join(dir, 'sub', 'b'), 0o640]);
      assert.equal((await path('file_delete')).path, join(dir, 'sub', 'b'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('setuid and a ptrace attach show up', async () => {
    const s = trigger('setuid', '65534');
    const [change] = await waitFor('setuid', () => ofPid(s.pid, 'privilege_change').at(0) && ofPid(s.pid, 'privilege_change'));
    assert.deepEqual([change.action, change.newUid, change.result], ['setuid', 65534, 0]);
    const p = trigger('ptrace');
    const [attach] = await waitFor('ptrace', () => ofPid(p.pid, 'ptrace').at(0) && ofPid(p.pid, 'ptrace'));
    assert.deepEqual([attach.action, attach.targetPid, attach.result], ['ptrace_attach', p.target, 0]);
  });

  test('exec of a memfd is a memfd_exec', async () => {
    const t = trigger('memfd-exec');
    const exec = await waitFor('memfd exec', () => ofPid(t.pid, 'memfd_exec').at(0));
    assert.match(exec.executable!, /memfd:vigil-test/);
  });

  test("the agent's own activity is filtered out in the kernel", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-self-'));
    try {
      writeFileSync(join(dir, 'agent-wrote'), 'x');
      execFileSync('sh', ['-c', 'echo x > child-wrote'], { cwd: dir });
      await waitFor('child write', () => seen.find((o) => o.path === join(dir, 'child-wrote')));
      assert.equal(seen.find((o) => o.path === join(dir, 'agent-wrote')), undefined);
      assert.equal(seen.filter((o) => o.pid === process.pid).length, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('exec events are enriched from the /proc-seeded process cache: parent and entity ids', async () => {
    const cache = new ProcessCache('host-1');
    seedFromProc(cache);
    const ctx = createBuildContext({ hostId: 'host-1', agent: { id: 'a', hostname: 'h', tenantId: 't', version: '0' }, cache });
    seen = [];
    const marker = `vigil-enrich-${Date.now()}`;
    const storm = trigger('storm', '100', '0.05', marker);
    const parentExec = await waitFor('parent exec', () => ofPid(storm.pid, 'process_start').at(0));
    await waitFor('child execs', () => seen.filter((o) => o.args?.[1]?.startsWith(marker)).length >= 5 || undefined);
    const events = seen.map((o) => buildEvent(o, ctx));
    const parent = events.find((e) => e.process?.pid === storm.pid && e.event.type === 'process_start')!;
    const child = events.find((e) => e.event.type === 'process_start' && e.process?.args?.[1] === `${marker}-0`)!;
    assert.equal(parent.process!.executable, parentExec.executable);
    assert.equal(child.process!.parent!.entity_id, parent.process!.entity_id);
    assert.equal(child.process!.parent!.executable, TRIGGER);
    assert.match(child.process!.parent!.command_line!, new RegExp(`storm 100 0.05 ${marker}`));
    // the trigger's own parent is this test process, which was running when the cache was seeded
    assert.equal(parent.process!.parent!.entity_id, cache.get(process.pid)!.entityId);
  });

  test('a killed sensor is restarted with backoff, counted, and events flow again', async () => {
    const first = sensor.counters().sensorPid!;
    process.kill(first, 'SIGKILL');
    await waitFor('restart', () => (sensor.counters().sensorPid ?? first) !== first || undefined);
    assert.equal(sensor.health().restarts, 1);
    const t = trigger('setgid', '65534');
    await waitFor('event after restart', () => ofPid(t.pid, 'privilege_change').at(0));
    assert.match(sensor.health().detail!, /^vigil-sensor pid \d+: sched_process_exec/);
  });
});

describe('eBPF sensor read over its Unix socket (agent without privilege)', { skip }, () => {
  test('events stream over the socket, the reader is filtered, and a restarted sensor is reconnected', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vigil-socket-'));
    const socketPath = join(dir, 'sensor.sock');
    const runSensor = () => spawn(DEFAULT_SENSOR_BINARY, ['--listen', socketPath], { stdio: 'ignore' });
    const waitForSocket = async () => {
      for (let i = 0; i < 200 && !existsSync(socketPath); i++) await new Promise((r) => setTimeout(r, 50));
    };
    let server = runSensor();
    const seen: Observation[] = [];
    const client = new EbpfSensor({ binary: DEFAULT_SENSOR_BINARY, socketPath, minBackoffMs: 100 });
    try {
      await waitForSocket();
      await client.start((o) => seen.push(o));
      const waitForEvent = async (pid: number) => {
        for (let i = 0; i < 200 && !seen.some((o) => o.pid === pid && o.type === 'privilege_change'); i++) await new Promise((r) => setTimeout(r, 50));
        assert.ok(seen.some((o) => o.pid === pid && o.type === 'privilege_change'), `setuid of ${pid} seen`);
      };
      await waitForEvent(trigger('setuid', '65534').pid);
      writeFileSync(join(dir, 'reader-wrote'), 'x');
      await waitForEvent(trigger('setgid', '65534').pid);
      assert.equal(seen.filter((o) => o.pid === process.pid).length, 0, 'the reader is filtered');
      server.kill('SIGKILL');
      await new Promise((r) => server.once('exit', r));
      rmSync(socketPath, { force: true });
      server = runSensor();
      await waitForSocket();
      for (let i = 0; i < 200 && client.counters().sensorPid !== server.pid; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(client.counters().sensorPid, server.pid);
      assert.ok(client.health().restarts >= 1);
      await waitForEvent(trigger('setuid', '65534').pid);
    } finally {
      await client.stop();
      server.kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
