import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcSensor } from '../../src/agent/sensors/proc/sensor.ts';
import { ProcReader } from '../../src/agent/sensors/proc/reader.ts';
import { procStartTimeMs } from '../../src/agent/sensors/proc/parse.ts';
import type { Observation } from '../../src/agent/sensor.ts';

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'vigil-proc-')));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Start a sensor that records what it emits; `waitFor` resolves with the first match. */
async function recording(t: { after(fn: () => Promise<void>): void }, opts: ConstructorParameters<typeof ProcSensor>[0] = {}) {
  const seen: Observation[] = [];
  const sensor = new ProcSensor({ intervalMs: 50, ...opts });
  await sensor.start((o) => seen.push(o));
  t.after(() => sensor.stop());
  const waitFor = async (what: string, pred: (o: Observation) => boolean, timeoutMs = 5000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = seen.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) assert.fail(`no ${what} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { sensor, seen, waitFor };
}

test('a new sleep child: process_start with ppid, args and cwd; process_end when killed', async (t) => {
  const { waitFor, sensor } = await recording(t);
  const cwd = tempDir(t);
  const name = `vigil-test-sleep-${process.pid}-${Date.now()}`;
  const child = spawn('sleep', ['30'], { argv0: name, cwd, stdio: 'ignore' });
  t.after(() => void child.kill('SIGKILL'));
  const start = await waitFor('process_start of the child', (o) => o.type === 'process_start' && o.pid === child.pid);
  assert.equal(start.ppid, process.pid);
  assert.deepEqual(start.args, [name, '30']);
  assert.equal(start.cwd, cwd);
  assert.match(start.executable!, /\/sleep$/);
  const exe = statSync(start.executable!, { bigint: true });
  assert.deepEqual(start.executableFile, { device: Number(exe.dev), inode: Number(exe.ino), size: Number(exe.size), mtimeNs: exe.mtimeNs }, 'the image, for the hasher');
  assert.equal(start.uid, process.getuid!());
  const stat = new ProcReader().stat(child.pid!)!;
  const { btimeS } = new ProcReader().bootInfo();
  assert.equal(start.startTimeMs, procStartTimeMs(stat.startTicks, btimeS));
  assert.ok(Math.abs(start.startTimeMs! - Date.now()) < 10_000, 'start time is wall clock');

  child.kill('SIGTERM');
  await once(child, 'exit');
  const end = await waitFor('process_end of the child', (o) => o.type === 'process_end' && o.pid === child.pid);
  assert.equal(end.startTimeMs, start.startTimeMs);
  assert.equal(sensor.health().mode, 'proc');
});

test('a TCP connection to a local listener: network_connection and network_accept', async (t) => {
  const { waitFor } = await recording(t);
  const server = createServer((s) => s.on('error', () => {}));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const client: Socket = createConnection(port, '127.0.0.1');
  await once(client, 'connect');
  t.after(() => {
    client.destroy();
    server.close();
  });
  const clientPort = client.localPort!;
  const conn = await waitFor('network_connection', (o) => o.type === 'network_connection' && o.dstPort === port);
  assert.deepEqual(
    [conn.pid, conn.transport, conn.family, conn.direction, conn.srcIp, conn.srcPort, conn.dstIp],
    [process.pid, 'tcp', 'ipv4', 'outbound', '127.0.0.1', clientPort, '127.0.0.1'],
  );
  const acc = await waitFor('network_accept', (o) => o.type === 'network_accept' && o.srcPort === clientPort);
  assert.deepEqual([acc.pid, acc.direction, acc.dstPort, acc.srcIp], [process.pid, 'inbound', port, '127.0.0.1']);
});

test('ignored pids: their processes and sockets are not reported', async (t) => {
  const seen: Observation[] = [];
  const sensor = new ProcSensor({ intervalMs: 60_000, ignorePids: [process.pid] });
  await sensor.start((o) => seen.push(o));
  t.after(() => sensor.stop());
  const server = createServer((s) => s.on('error', () => {}));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const client = createConnection(port, '127.0.0.1');
  await once(client, 'connect');
  t.after(() => {
    client.destroy();
    server.close();
  });
  sensor.poll();
  assert.deepEqual(seen.filter((o) => o.dstPort === port), []);
});

// Drop accounting is tested in two halves, so that no fork elsewhere on the host (other tests run in
// parallel) can offset it: the kernel's counter counts processes that live less than a poll (real
// /proc: other forks only add to it), and the sensor counts as drops exactly the tasks that counter
// created but no poll saw (a fake /proc whose counter and processes the test sets).
test('the kernel fork counter the sensor reads counts processes living less than one poll', () => {
  const reader = new ProcReader();
  const before = reader.bootInfo().forks;
  for (let i = 0; i < 5; i++) spawnSync('true');
  const created = reader.bootInfo().forks - before;
  assert.ok(created >= 5, `/proc/stat processes grew by ${created} for 5 processes`);
});

test('tasks created between polls that no poll saw are counted as drops; new processes and threads are not', async (t) => {
  const proc = fakeProc(tempDir(t));
  proc.add(10, 1, 500, ['bash']);
  proc.forks(100);
  const sensor = new ProcSensor({ procRoot: proc.root, intervalMs: 60_000 });
  await sensor.start(() => {});
  t.after(() => sensor.stop());

  proc.forks(105); // five processes came and went between the polls
  sensor.poll();
  assert.equal(sensor.health().drops, 5);

  proc.add(11, 10, 600, ['worker'], 3); // a new process with two more threads: three tasks seen
  proc.forks(105 + 3 + 2); // and two more that nobody saw
  sensor.poll();
  assert.equal(sensor.health().drops, 5 + 2);

  proc.add(10, 1, 500, ['bash'], 4); // a known process started three threads
  proc.forks(110 + 3);
  sensor.poll();
  assert.equal(sensor.health().drops, 7, 'new threads of a known process are seen tasks');
});

/** A fake /proc tree: what an unprivileged reader sees (no exe or cwd links). */
function fakeProc(root: string) {
  const forks = (n: number) => writeFileSync(join(root, 'stat'), `cpu 0 0 0\nbtime 1700000000\nprocesses ${n}\n`);
  forks(100);
  mkdirSync(join(root, 'net'), { recursive: true });
  return {
    root,
    /** Sets the kernel's count of tasks created since boot. */
    forks,
    add(pid: number, ppid: number, ticks: number, args: string[], threads = 1) {
      const dir = join(root, String(pid));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'stat'), `${pid} (${args[0]}) S ${ppid} 0 0 0 -1 4194304 0 0 0 0 0 0 0 0 20 0 ${threads} 0 ${ticks} 0 0\n`);
      writeFileSync(join(dir, 'cmdline'), args.join('\0') + '\0');
      writeFileSync(join(dir, 'status'), `Name:\t${args[0]}\nUid:\t1000\t1000\t1000\t1000\nGid:\t50\t50\t50\t50\n`);
    },
    remove(pid: number) {
      rmSync(join(root, String(pid)), { recursive: true });
    },
  };
}

test('without privilege the executable falls back to argv[0] and says so; PID reuse is a new process', async (t) => {
  const root = tempDir(t);
  const proc = fakeProc(root);
  proc.add(10, 1, 500, ['bash']);
  const seen: Observation[] = [];
  const sensor = new ProcSensor({ procRoot: root, intervalMs: 60_000 });
  await sensor.start((o) => seen.push(o));
  t.after(() => sensor.stop());
  assert.equal(seen.length, 0, 'existing processes are the baseline');

  proc.add(11, 10, 900, ['python3', '-c', 'print(1)']);
  sensor.poll();
  assert.equal(seen.length, 1);
  assert.deepEqual(
    { ...seen[0], timeMs: 0 },
    {
      type: 'process_start',
      timeMs: 0,
      pid: 11,
      ppid: 10,
      comm: 'python3',
      startTimeMs: procStartTimeMs(900, 1700000000),
      executable: 'python3',
      executableFromArgs: true,
      args: ['python3', '-c', 'print(1)'],
      cwd: undefined,
      uid: 1000,
      euid: 1000,
      gid: 50,
    },
  );

  proc.add(11, 10, 1200, ['curl', 'example.org']); // same pid, later start: reused
  proc.remove(10);
  sensor.poll();
  assert.deepEqual(
    seen.slice(1).map((o) => [o.type, o.pid, o.startTimeMs]),
    [
      ['process_end', 11, procStartTimeMs(900, 1700000000)],
      ['process_end', 10, procStartTimeMs(500, 1700000000)],
      ['process_start', 11, procStartTimeMs(1200, 1700000000)],
    ],
  );
});

test('readAllProcesses lists this very process for seeding the cache', () => {
  const all = new ProcReader().readAllProcesses((uid) => (uid === process.getuid!() ? 'me' : undefined));
  const self = all.find((p) => p.pid === process.pid)!;
  assert.ok(self, 'own process present');
  assert.equal(self.ppid, process.ppid);
  assert.equal(self.user, 'me');
  assert.equal(self.executable, realpathSync(process.execPath));
  const expectedStart = Date.now() - process.uptime() * 1000;
  assert.ok(Math.abs(self.startTimeMs - expectedStart) < 2000, `${self.startTimeMs} vs ${expectedStart}`);
});

test('sensor → cache seeded from /proc → buildEvent → validateEvent, with the parent enriched', async (t) => {
  const { ProcessCache } = await import('../../src/agent/process-cache.ts');
  const { buildEvent, createBuildContext } = await import('../../src/agent/events.ts');
  const { validateEvent } = await import('../../src/schema/validate.ts');
  const cache = new ProcessCache('host-t');
  cache.seed(new ProcReader().readAllProcesses());
  const ctx = createBuildContext({ hostId: 'host-t', agent: { id: 'a', hostname: 'h', tenantId: 't', version: '0' }, cache });
  const { waitFor } = await recording(t);
  const child = spawn('sleep', ['29', '1'], { stdio: 'ignore' });
  t.after(() => void child.kill('SIGKILL'));
  const obs = await waitFor('process_start', (o) => o.type === 'process_start' && o.pid === child.pid);
  const result = validateEvent(buildEvent(obs, ctx));
  assert.ok(result.ok, result.ok ? '' : result.error);
  const ev = result.event;
  assert.equal(ev.process!.parent!.pid, process.pid);
  assert.equal(ev.process!.parent!.entity_id, cache.get(process.pid)!.entityId);
  assert.equal(ev.process!.parent!.executable, realpathSync(process.execPath));
  assert.equal(ev.process!.command_line, 'sleep 29 1');
});
