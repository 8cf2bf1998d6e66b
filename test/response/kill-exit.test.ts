// kill_process end to end with the real eBPF sensor: the agent kills a process the test started (identified by
// PID and entity id, as an analyst would take them from its process_start event) and the process_end event of
// that process arrives in the event store carrying the signal. Needs root, kernel BTF and a built sensor
// (make -C sensor); skipped otherwise (the /proc sensor cannot see exit signals).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Agent } from '../../src/agent/agent.ts';
import { ResponseExecutor } from '../../src/agent/response/executor.ts';
import { DEFAULT_SENSOR_BINARY, detectEnvironment, ebpfUnavailableReason, selectSensor } from '../../src/agent/sensors/select.ts';
import { splitHostPort } from '../../src/server/embedded.ts';
import { actionReaches, quiet, startTestServer, until } from './helpers.ts';

const skip = ebpfUnavailableReason(detectEnvironment(DEFAULT_SENSOR_BINARY), DEFAULT_SENSOR_BINARY) ?? false;

test('the killed process\'s exit event arrives with the signal', { skip, timeout: 90_000 }, async () => {
  const t = await startTestServer();
  const dataDir = join(t.dir, 'agent');
  const executor = new ResponseExecutor({ dataDir, log: quiet, management: splitHostPort(t.server.grpcAddress) });
  const agent = new Agent({
    ...executor.agentOptions(), dataDir, server: t.server.grpcAddress, caPem: t.server.caPem, log: quiet, batchIntervalMs: 100,
    enrollmentToken: await t.server.createEnrollmentToken(), sensor: await selectSensor({ prefer: 'ebpf' }),
  });
  executor.attach(agent);
  const marker = `vigil-kill-${process.pid}-${Date.now()}`;
  try {
    await agent.start();
    await until('agent connected', () => agent.connected || undefined);
    const child = spawn('sleep', ['600'], { stdio: 'ignore', argv0: marker });
    const events = async (type: string) => (await t.api(`/events?type=${type}&q=${marker}&limit=10`)).body.events as any[] | undefined;
    const started = await until('process_start stored', async () => (await events('process_start'))?.find((e) => e.process?.pid === child.pid), 30_000);
    const r = await t.api(`/hosts/${agent.agentId}/kill-process`, {
      method: 'POST', body: JSON.stringify({ pid: child.pid, entity_id: started.process.entity_id, signal: 'SIGKILL', reason: 'kill-exit test' }),
    });
    const done = await actionReaches(t, r.body.id, ['succeeded', 'failed'], 15_000);
    assert.equal(done.status, 'succeeded', done.error);
    const ended = await until('process_end stored', async () => (await events('process_end'))?.find((e) => e.process?.pid === child.pid), 30_000);
    assert.equal(ended.process.entity_id, started.process.entity_id);
    assert.equal(ended.process.signal, 9);
  } finally {
    await agent.stop();
    await t.stop();
  }
});
