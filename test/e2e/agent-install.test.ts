// The agent install command works verbatim: POST /enrollment-tokens answers the agents' endpoint, the CA certificate
// and `install_command`; the test runs that exact string with `sh -c` on an embedded server, in a fresh directory
// where `npx vigil` is Vigil (node_modules/.bin/vigil linking this checkout's bin/vigil.js, as an installed package
// would; a new host runs it in its Vigil checkout), and sees the agent enrol (its identity in ./agent-data), stream
// (its events stored under its agent id) and appear in GET /agents.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pino } from 'pino';
import { startEmbeddedServer } from '../../src/server/embedded.ts';

const ROOT = join(import.meta.dirname, '../..');

test('the install command of a new enrolment token enrols and starts an agent that streams', { timeout: 180_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vigil-install-server-'));
  const host = mkdtempSync(join(tmpdir(), 'vigil-install-host-'));
  const npmCache = mkdtempSync(join(tmpdir(), 'vigil-install-npm-'));
  const server = await startEmbeddedServer({ dataDir, http: '127.0.0.1:0', grpc: '127.0.0.1:0', log: pino({ level: 'silent' }) });
  const key = readFileSync(server.adminKeyPath, 'utf8').trim();
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${server.httpUrl}/api/v1${path}`, { method, headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
    return { status: res.status, body: await res.json() as any };
  };
  let child: ReturnType<typeof spawn> | undefined;
  let output = '';
  try {
    const t = await api('POST', '/enrollment-tokens', { ttl_seconds: 600 });
    assert.equal(t.status, 201, JSON.stringify(t.body));
    assert.equal(t.body.agent_endpoint, server.grpcAddress);
    assert.equal(t.body.ca_pem, server.caPem);
    assert.match(t.body.install_command, /^printf '%s' '-----BEGIN CERTIFICATE-----\n[\s\S]+-----END CERTIFICATE-----\n' > vigil-ca\.pem && npx vigil agent --server '[^']+' --ca vigil-ca\.pem --token 'vet_[A-Za-z0-9_-]+'$/);
    assert.ok(t.body.install_command.includes(t.body.token));

    // `npx vigil` in this directory is Vigil, as after installing it; npx looks for nothing on the registry.
    mkdirSync(join(host, 'node_modules/.bin'), { recursive: true });
    symlinkSync(join(ROOT, 'bin/vigil.js'), join(host, 'node_modules/.bin/vigil'));
    const path = [join(ROOT, 'node_modules/.bin'), ...(process.env.PATH ?? '').split(delimiter)].join(delimiter); // the pinned Node 24
    child = spawn('sh', ['-c', t.body.install_command], {
      cwd: host, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PATH: path, npm_config_cache: npmCache, npm_config_update_notifier: 'false', VIGIL_LOG_LEVEL: 'warn' },
    });
    child.stdout!.on('data', (b: Buffer) => { output += b.toString(); });
    child.stderr!.on('data', (b: Buffer) => { output += b.toString(); });

    let agentId: string | undefined;
    for (const until = Date.now() + 120_000; !agentId; await new Promise((r) => setTimeout(r, 200))) {
      if (child.exitCode !== null) assert.fail(`the install command exited with ${child.exitCode}:\n${output}`);
      if (Date.now() > until) assert.fail(`no agent started within 120 s:\n${output}`);
      agentId = /vigil: agent (\S+) streaming to /.exec(output)?.[1];
    }
    assert.equal(readFileSync(join(host, 'vigil-ca.pem'), 'utf8'), server.caPem, 'the CA file is the server\'s CA');
    assert.ok(existsSync(join(host, 'agent-data')), 'the agent keeps its identity in ./agent-data');
    assert.doesNotMatch(output, /EBADENGINE/);

    const tokens = await api('GET', '/enrollment-tokens');
    assert.equal(tokens.body.enrollment_tokens.find((x: { id: string }) => x.id === t.body.id).uses, 1, 'the token was used to enrol');
    let events: { agent?: { id?: string } }[] = [];
    for (const until = Date.now() + 60_000; events.length === 0; await new Promise((r) => setTimeout(r, 500))) {
      if (Date.now() > until) assert.fail(`no event of agent ${agentId} stored within 60 s:\n${output}`);
      events = (await api('GET', `/events?host=${encodeURIComponent(agentId)}&limit=5`)).body.events ?? [];
    }
    assert.ok(events.every((e) => e.agent?.id === agentId));
    const agents = (await api('GET', '/agents')).body.agents as { id: string }[];
    assert.ok(agents.some((a) => a.id === agentId), 'the agent is listed');
  } finally {
    if (child?.pid && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* gone */ }
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    await server.stop();
    for (const d of [dataDir, host, npmCache]) rmSync(d, { recursive: true, force: true });
  }
});
