// End to end: `vigil up` in a temporary data directory (server + local agent with its real sensor),
// a uniquely named process started on this host, found through the API with its parent and command
// line, in events and in the live process tree; then a clean stop and a restart that continues.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { apiGet, eventually, startVigil, VIGIL_BIN } from '../support/vigil-process.ts';

function findInTree(nodes: any[], pid: number, parent: any = null): { node: any; parent: any } | undefined {
  for (const n of nodes) {
    if (n.pid === pid) return { node: n, parent };
    const hit = findInTree(n.children, pid, n);
    if (hit) return hit;
  }
  return undefined;
}

test('vigil up: a new process is seen with its parent and command line, and a restart continues', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-up-'));
  const marker = `vigil-e2e-${randomBytes(4).toString('hex')}`;
  const exe = join(dir, marker);
  copyFileSync('/bin/sleep', exe);
  let vigil = await startVigil(['up', '--data-dir', dir, '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], dir);
  try {
    assert.equal(statSync(join(dir, 'admin-api-key')).mode & 0o777, 0o600);
    const { hosts } = await eventually(async () => {
      const r = await apiGet(vigil, '/api/v1/hosts');
      return r.hosts.length ? r : undefined;
    }, 20_000, 'the local agent to enrol');
    const hostId = hosts[0].id;

    // The parent shell runs the marker and then `true`, so it stays the marker's parent. The marker sleeps
    // until it is killed below, so a slow machine still finds it alive in the live tree.
    const shell = spawn('/bin/sh', ['-c', `${exe} 600 ; true`], { stdio: 'ignore' });
    const shellExit = new Promise((r) => shell.once('exit', r));
    const started = await eventually(async () => {
      const r = await apiGet(vigil, `/api/v1/events?type=process_start&q=${marker}&host=${hostId}`);
      return r.events.find((e: any) => e.process.executable === exe);
    }, 30_000, 'the marker process_start event');
    assert.equal(started.process.command_line, `${exe} 600`);
    assert.deepEqual(started.process.args, [exe, '600']);
    assert.equal(started.process.parent.pid, shell.pid);
    assert.match(started.process.parent.executable, /\/(dash|bash|sh)$/);
    assert.equal(started.host.id, hostId);
    assert.match(started.process.entity_id, /^[A-Za-z0-9_-]{22}$/);

    const tree = await apiGet(vigil, `/api/v1/hosts/${hostId}/process-tree`);
    const hit = findInTree(tree.roots, started.process.pid);
    assert.ok(hit, 'the marker is in the live process tree');
    assert.equal(hit.node.cmdline, `${exe} 600`);
    assert.equal(hit.parent?.pid, shell.pid);

    process.kill(started.process.pid, 'SIGTERM');
    await shellExit;
    await eventually(async () => {
      const r = await apiGet(vigil, `/api/v1/events?type=process_end&q=${marker}&host=${hostId}`);
      return r.events.find((e: any) => e.process.entity_id === started.process.entity_id);
    }, 30_000, 'the marker process_end event');
    // The live tree applies a batch just after it is stored: an exited process leaves it soon after its event.
    await eventually(async () => {
      const later = await apiGet(vigil, `/api/v1/hosts/${hostId}/process-tree`);
      return findInTree(later.roots, started.process.pid)?.node.entity_id === started.process.entity_id ? undefined : true;
    }, 30_000, 'the exited process to leave the live tree');
    const past = await apiGet(vigil, `/api/v1/hosts/${hostId}/process-tree?at=${encodeURIComponent(started['@timestamp'])}`);
    assert.ok(findInTree(past.roots, started.process.pid), 'the historical tree still has it');

    assert.equal(await vigil.stop('SIGTERM'), 0, `clean stop:\n${vigil.output()}`);

    vigil = await startVigil(['up', '--data-dir', dir, '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], dir);
    const again = await apiGet(vigil, '/api/v1/hosts');
    assert.deepEqual(again.hosts.map((h: any) => h.id), [hostId], 'the same agent continues, no re-enrolment');
    const kept = await apiGet(vigil, `/api/v1/events?type=process_start&q=${marker}`);
    assert.ok(kept.events.some((e: any) => e.event.id === started.event.id), 'events survive the restart');
  } finally {
    spawnSync('pkill', ['-f', marker]);
    await vigil.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('vigil agent: a separate agent process enrols with a token and streams; a used-up token is refused', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-agent-'));
  const server = await startVigil(['up', '--no-agent', '--data-dir', join(dir, 'server'), '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0'], join(dir, 'server'));
  const agents: ReturnType<typeof spawn>[] = [];
  const runAgent = (name: string, token: string) => {
    const child = spawn(process.execPath, [VIGIL_BIN, 'agent', '--server', server.grpcAddress, '--ca', join(dir, 'server', 'pki', 'ca.pem'),
      '--token', token, '--data-dir', join(dir, name), '--sensor', 'proc'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, VIGIL_LOG_LEVEL: 'warn' } });
    agents.push(child);
    let out = '';
    child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
    child.stderr!.on('data', (b: Buffer) => { out += b.toString(); });
    return { child, output: () => out, exited: new Promise<number | null>((r) => child.once('exit', r)) };
  };
  try {
    const res = await fetch(`${server.apiUrl}/api/v1/enrollment-tokens`, {
      method: 'POST', headers: { authorization: `Bearer ${server.apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ max_uses: 1 }),
    });
    const { token } = await res.json() as { token: string };
    const first = runAgent('agent-1', token);
    const host = await eventually(async () => (await apiGet(server, '/api/v1/hosts')).hosts[0], 30_000, 'the agent to enrol');
    await eventually(async () => ((await apiGet(server, `/api/v1/events?host=${host.id}&limit=1`)).events[0]), 30_000, 'its first events');
    const second = runAgent('agent-2', token);
    assert.notEqual(await second.exited, 0, 'the second enrolment with a single-use token fails');
    assert.match(second.output(), /used up/);
    first.child.kill('SIGTERM');
    assert.equal(await first.exited, 0, first.output());
  } finally {
    for (const a of agents) a.kill('SIGKILL');
    await server.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
