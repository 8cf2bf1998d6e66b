// Agent and sensor enrichment on the running kernel (issue 22), through the real eBPF sensor and the real
// Agent streaming over mutual TLS to a stub ingest endpoint: an executed binary's identity from the kernel and
// its digests (checked against sha256sum, sha1sum and md5sum), first in a process_hash event, then on the next
// exec's process_start from the cache; DNS queries and answers of `getent hosts` against a local resolver on
// loopback (a dgram responder in this test; getent in a mount namespace whose /etc/resolv.conf names it) and of
// a UDP query from another process, as dns events with the asking process. Needs root, kernel BTF and
// make -C sensor; skipped with the reason otherwise.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.ts';
import { EbpfSensor } from '../../src/agent/sensors/ebpf/index.ts';
import { DEFAULT_SENSOR_BINARY, detectEnvironment, ebpfUnavailableReason } from '../../src/agent/sensors/select.ts';
import { AgentMessageType } from '../../src/schema/wire.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { benchAgentDirs, startStubIngest, type BenchAgentDirs, type StubIngest } from '../../bench/support/stub-ingest.ts';
import { dnsQuery, startDnsResponder } from '../support/dns-responder.ts';

const execFileAsync = promisify(execFile);

const skip = ebpfUnavailableReason(detectEnvironment(DEFAULT_SENSOR_BINARY), DEFAULT_SENSOR_BINARY);

describe('enrichment through the eBPF sensor and the agent', { skip }, () => {
  let dirs: BenchAgentDirs;
  let ingest: StubIngest;
  let agent: Agent;
  const events: VigilEvent[] = [];

  const waitFor = async <T>(what: string, find: () => T | undefined, timeoutMs = 15_000): Promise<T> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const found = find();
      if (found !== undefined) return found;
      if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  before(async () => {
    dirs = await benchAgentDirs('vigil-enrichment-');
    ingest = await startStubIngest(dirs.serverCredentials, (m) => {
      for (const e of m.batch?.events ?? []) {
        const o = AgentMessageType.lookupType('vigil.v1.Event').toObject(e as never, { longs: Number, defaults: false });
        events.push({ ...o, '@timestamp': o.timestamp } as unknown as VigilEvent);
      }
    });
    agent = new Agent({
      dataDir: dirs.agentDir, server: `127.0.0.1:${ingest.port}`, caPem: readFileSync(dirs.caFile, 'utf8'), log: pino({ level: 'warn' }),
      sensor: new EbpfSensor({ binary: DEFAULT_SENSOR_BINARY }), batchIntervalMs: 100,
    });
    await agent.start();
  });

  after(async () => {
    await agent.stop();
    ingest.close();
    rmSync(dirs.workDir, { recursive: true, force: true });
  });

  test('an executed binary is hashed: a process_hash event first, then the digests on the next exec itself', async () => {
    const exe = join(dirs.workDir, `vigil-hash-me-${process.pid}`);
    copyFileSync('/usr/bin/true', exe);
    appendFileSync(exe, randomBytes(4096)); // contents no other test ran: not in the hasher's cache
    chmodSync(exe, 0o755);
    const st = statSync(exe, { bigint: true });
    const sums = { sha256: digest('sha256sum', exe), sha1: digest('sha1sum', exe), md5: digest('md5sum', exe) };

    execFileSync(exe, ['first']);
    const start = await waitFor('process_start', () => events.find((e) => e.event.type === 'process_start' && e.process?.executable === exe));
    assert.deepEqual(start.process!.file, { size: Number(st.size), inode: String(st.ino), device: String(st.dev), mtime: new Date(Number(st.mtimeNs / 1_000_000n)).toISOString() });
    assert.equal(start.process!.hash, undefined, 'not known yet at the first exec');
    const hashed = await waitFor('process_hash', () => events.find((e) => e.event.type === 'process_hash' && e.process?.executable === exe));
    assert.deepEqual(hashed.process!.hash, sums);
    assert.equal(hashed.process!.entity_id, start.process!.entity_id);
    assert.equal(hashed.event.action, 'hash');
    assert.equal(hashed.process!.file!.inode, String(st.ino));

    execFileSync(exe, ['second']);
    const again = await waitFor('second process_start', () => events.find((e) => e.event.type === 'process_start' && e.process?.args?.[1] === 'second' && e.process.executable === exe));
    assert.deepEqual(again.process!.hash, sums);
    assert.equal(events.filter((e) => e.event.type === 'process_hash' && e.process?.executable === exe).length, 1, 'hashed once');
    assert.equal(agent.hasher.counters.hashed >= 1, true);
  });

  test('a process in a container-named cgroup (made here, Docker systemd-driver name) carries container.id and runtime, though gone before the agent looked', async () => {
    const mount = ['/sys/fs/cgroup/unified', '/sys/fs/cgroup'].find((m) => existsSync(join(m, 'cgroup.controllers')));
    if (!mount) return void assert.fail('no cgroup v2 mount');
    const id = randomBytes(32).toString('hex');
    const dir = join(mount, `docker-${id}.scope`);
    mkdirSync(dir);
    try {
      const marker = `vigil-container-${process.pid}`;
      execFileSync('sh', ['-c', `echo $$ > ${dir}/cgroup.procs && exec /usr/bin/true ${marker}`]);
      const exec = await waitFor('the exec in the cgroup', () => events.find((e) => e.event.type === 'process_start' && e.process?.args?.[1] === marker));
      assert.deepEqual(exec.container, { cgroup_id: String(statSync(dir).ino), id, runtime: 'docker' });
      assert.equal(exec.orchestrator, undefined);
    } finally {
      rmdirSync(dir);
    }
  });

  test('DNS: getent hosts through a local resolver and a UDP query from another process are dns events of the asking process', async () => {
    // A loopback address of its own (any 127/8 address is local), so that no other resolver is in the way.
    const resolverIp = `127.53.${1 + (process.pid % 200)}.${1 + Math.floor(Math.random() * 250)}`;
    const name = `vigil-dns-${process.pid}-${Date.now()}.test`;
    const missing = `nx-${name}`;
    const responder = await startDnsResponder(resolverIp, 53, (q) => (q === name ? '192.0.2.53' : undefined));
    const resolvConf = join(dirs.workDir, 'resolv.conf');
    writeFileSync(resolvConf, `nameserver ${resolverIp}\noptions attempts:1 timeout:2\n`);
    try {
      // Not execFileSync: the responder runs in this process.
      const getent = await execFileAsync('unshare', ['-m', 'sh', '-c', `mount --bind ${resolvConf} /etc/resolv.conf && exec getent hosts ${name}`]);
      assert.match(getent.stdout, new RegExp(`^192\\.0\\.2\\.53\\s+${name.replaceAll('.', '\\.')}`));
      const dnsOf = (type: string, q: string) => events.filter((e) => e.event.type === 'dns' && e.dns?.type === type && e.dns.question?.name === q);
      const query = await waitFor('the query', () => dnsOf('query', name).find((e) => e.dns?.question?.type === 'A'));
      const answer = await waitFor('the answer', () => dnsOf('answer', name).find((e) => e.dns?.question?.type === 'A'));
      for (const e of [query, answer]) {
        assert.equal(e.process?.executable, '/usr/bin/getent');
        assert.match(e.process?.command_line ?? '', new RegExp(`getent hosts ${name.replaceAll('.', '\\.')}`));
        assert.ok(e.process?.entity_id);
        assert.deepEqual([e.event.category, e.network?.transport, e.destination?.ip, e.destination?.port], ['network', 'udp', resolverIp, 53]);
      }
      assert.equal(query.event.action, 'query');
      assert.equal(query.dns?.id, answer.dns?.id);
      assert.deepEqual([answer.event.action, answer.dns?.response_code, answer.dns?.resolved_ip], ['answer', 'NOERROR', ['192.0.2.53']]);
      assert.deepEqual(answer.dns?.answers, [{ name, type: 'A', ttl: 60, data: '192.0.2.53' }]);

      // An unconnected UDP socket in another process: sendto with the resolver's address, the answer with its source.
      const script = `const s = require('node:dgram').createSocket('udp4');
        const q = Buffer.from(process.argv[1], 'hex');
        s.on('message', (m) => { console.log(m.length); s.close(); });
        s.send(q, 53, process.argv[2]);`;
      const child = await execFileAsync(process.execPath, ['-e', script, dnsQuery(0xbeef, missing).toString('hex'), resolverIp]);
      assert.ok(Number(child.stdout) > 12);
      const nx = await waitFor('the NXDOMAIN answer', () => dnsOf('answer', missing)[0]);
      assert.deepEqual([nx.dns?.id, nx.dns?.response_code, nx.dns?.resolved_ip, nx.process?.executable], [String(0xbeef), 'NXDOMAIN', undefined, process.execPath]);
      assert.ok(dnsOf('query', missing).length === 1);
    } finally {
      await responder.close();
    }
  });
});

function digest(tool: string, path: string): string {
  return execFileSync(tool, [path], { encoding: 'utf8' }).split(' ')[0];
}
