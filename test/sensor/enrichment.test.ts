// Agent and sensor enrichment on the running kernel (issue 22), through the real eBPF sensor and the real
// Agent streaming over mutual TLS to a stub ingest endpoint: an executed binary's identity from the kernel and
// its digests (checked against sha256sum, sha1sum and md5sum), first in a process_hash event, then on the next
// exec's process_start from the cache. Needs root, kernel BTF and make -C sensor; skipped with the reason otherwise.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, appendFileSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Agent } from '../../src/agent/agent.ts';
import { EbpfSensor } from '../../src/agent/sensors/ebpf/index.ts';
import { DEFAULT_SENSOR_BINARY, detectEnvironment, ebpfUnavailableReason } from '../../src/agent/sensors/select.ts';
import { AgentMessageType } from '../../src/schema/wire.ts';
import type { VigilEvent } from '../../src/schema/event.ts';
import { benchAgentDirs, startStubIngest, type BenchAgentDirs, type StubIngest } from '../../bench/support/stub-ingest.ts';

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
    const st = statSync(exe);
    const sums = { sha256: digest('sha256sum', exe), sha1: digest('sha1sum', exe), md5: digest('md5sum', exe) };

    execFileSync(exe, ['first']);
    const start = await waitFor('process_start', () => events.find((e) => e.event.type === 'process_start' && e.process?.executable === exe));
    assert.deepEqual(start.process!.file, { size: st.size, inode: String(st.ino), device: String(st.dev), mtime: st.mtime.toISOString() });
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
});

function digest(tool: string, path: string): string {
  return execFileSync(tool, [path], { encoding: 'utf8' }).split(' ')[0];
}
