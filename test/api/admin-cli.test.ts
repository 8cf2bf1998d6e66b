// `vigil admin create-superadmin` as a real child process: on an embedded data directory it prints a one-time
// password that signs in to a real server as super-admin of `_platform`, and the ledger holds the creation; it
// is refused while that server holds the ledger (a lock of a process that is gone is taken over), for an e-mail that exists, and for bad arguments; with
// --postgres it writes the identity store and ledger in a throw-away PostgreSQL database.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { openApiSecurity } from '../../src/api/security.ts';
import { startEmbeddedServer } from '../../src/server/embedded.ts';
import { createTempDatabase } from '../support/postgres.ts';
import { VIGIL_BIN } from '../support/vigil-process.ts';

const dirs: string[] = [];
after(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'vigil-admin-'));
  dirs.push(d);
  return d;
}

/** Runs `vigil admin …`; resolves with its exit code and output (never rejects on a non-zero exit). */
function vigilAdmin(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [VIGIL_BIN, 'admin', ...args], (err, stdout, stderr) => {
      done({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const passwordIn = (stdout: string): string => {
  const m = /one-time password: (\S+)/.exec(stdout);
  assert.ok(m, stdout);
  return m[1];
};

test('create-superadmin on a data directory: the password signs in, the ledger records it, a running server blocks it', async () => {
  const dir = tempDir();
  const created = await vigilAdmin('create-superadmin', '--data-dir', dir, '--email', 'Root@Platform.test');
  assert.equal(created.code, 0, created.stderr);
  const password = passwordIn(created.stdout);
  assert.ok(password.length >= 20);

  const server = await startEmbeddedServer({ dataDir: dir, http: '127.0.0.1:0', grpc: '127.0.0.1:0', log: pino({ level: 'silent' }) });
  try {
    const api = (path: string, init: RequestInit = {}) => fetch(`${server.httpUrl}/api/v1${path}`, init);
    const login = await api('/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: '_platform', email: 'root@platform.test', password }) });
    assert.equal(login.status, 200);
    const { access_token: token, user } = await login.json() as { access_token: string; user: { id: string; role: string } };
    assert.equal(user.role, 'super-admin');
    const ledger = await (await api('/ledger/entries?limit=1000', { headers: { authorization: `Bearer ${token}` } })).json() as { entries: { action: string; actor: string; target: string; tenant_id: string }[] };
    assert.ok(ledger.entries.some((e) => e.action === 'users.create' && e.actor === 'system' && e.target === `user:${user.id}` && e.tenant_id === '_platform'));
    assert.ok(!JSON.stringify(ledger.entries).includes(password), 'the password never reaches the ledger');

    const busy = await vigilAdmin('create-superadmin', '--data-dir', dir, '--email', 'second@platform.test');
    assert.equal(busy.code, 1);
    assert.match(busy.stderr, /held by process \d+/);
  } finally {
    await server.stop();
  }

  const again = await vigilAdmin('create-superadmin', '--data-dir', dir, '--email', 'root@platform.test');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /exists/);
  assert.doesNotMatch(again.stdout, /one-time password/);
});

test('a ledger lock left by a process that is gone is taken over', async () => {
  const dir = tempDir();
  const gone = await new Promise<number>((done) => { const c = execFile(process.execPath, ['-e', '']); c.on('exit', () => done(c.pid!)); });
  writeFileSync(join(dir, 'ledger.lock'), `${gone}\n`);
  const r = await vigilAdmin('create-superadmin', '--data-dir', dir, '--email', 'root@platform.test');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(join(dir, 'ledger.lock')), false, 'released at exit');
});

test('bad arguments are usage errors (exit 2)', async () => {
  for (const args of [[], ['create-superadmin'], ['make-coffee', '--email', 'a@b.c'], ['create-superadmin', '--email', 'a@b.c', '--bogus']]) {
    const r = await vigilAdmin(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /usage: vigil admin create-superadmin/);
  }
  const invalid = await vigilAdmin('create-superadmin', '--data-dir', tempDir(), '--email', 'not-an-address');
  assert.equal(invalid.code, 1);
  assert.match(invalid.stderr, /e-mail address is not valid/);
});

test('create-superadmin with --postgres writes the PostgreSQL identity store and ledger', async () => {
  const db = await createTempDatabase('admin');
  try {
    const keyDir = tempDir();
    const noKey = await vigilAdmin('create-superadmin', '--data-dir', keyDir, '--email', 'root@platform.test', '--postgres', db.url);
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /no ledger key/);

    const source = tempDir(); // a deployment's key directory: a ledger key made the usual way
    await (await openApiSecurity({ dataDir: source })).close();
    mkdirSync(keyDir, { recursive: true });
    for (const f of ['ledger-key.pem', 'ledger-key.pub', 'access-token-key.pem']) copyFileSync(join(source, f), join(keyDir, f));
    const created = await vigilAdmin('create-superadmin', '--data-dir', keyDir, '--email', 'root@platform.test', '--postgres', db.url);
    assert.equal(created.code, 0, created.stderr);
    const password = passwordIn(created.stdout);

    const security = await openApiSecurity({ dataDir: keyDir, postgres: db.config });
    try {
      const pair = await security.auth.login({ tenantId: '_platform', email: 'root@platform.test', password });
      assert.equal(pair.principal.role, 'super-admin');
      const { entries } = await security.ledger.entries({ limit: 100 });
      assert.ok(entries.some((e) => e.action === 'users.create' && e.tenant_id === '_platform'));
    } finally {
      await security.close();
    }
  } finally {
    await db.drop();
  }
});
