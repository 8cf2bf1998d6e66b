// Triage collection and file retrieval: the archive holds every file with the hash its manifest states; the
// size cap stops the collection; paths the agent cannot read are reported, not fatal; the upload keeps at most
// its window of chunks unacknowledged; end to end, an archive and a single file reach the server, are
// downloadable with their SHA-256, and the ledger holds their chain of custody.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import tar from 'tar-stream';
import { collectTriage } from '../../src/agent/response/triage.ts';
import { ArtifactUploader, uploadSink } from '../../src/agent/response/uploader.ts';
import type { ArtifactChunk } from '../../src/schema/wire.ts';
import { actionReaches, startTestAgent, startTestServer, until, type TestAgent, type TestServer } from './helpers.ts';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let dir: string;
const files: Record<string, Buffer> = {};

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-triage-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'logs/nested'), { recursive: true });
  const put = (rel: string, data: Buffer) => { writeFileSync(join(dir, rel), data); files[join(dir, rel)] = data; };
  put('logs/auth.log', Buffer.from('Accepted publickey for root\n'.repeat(500)));
  put('logs/nested/blob.bin', randomBytes(300_000));
  put('logs/empty', Buffer.alloc(0));
  symlinkSync('/etc/passwd', join(dir, 'logs/link-to-passwd'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

function memorySink() {
  const parts: Buffer[] = [];
  return {
    parts,
    async write(b: Buffer) { parts.push(b); },
    async end() { const all = Buffer.concat(parts); return { sha256: sha256(all), bytes: all.length }; },
  };
}

async function untar(gz: Buffer): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const extract = tar.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      out.set(entry.header.name, Buffer.concat(chunks));
    }
  })();
  extract.end(gunzipSync(gz));
  await done;
  return out;
}

test('every file is archived with the SHA-256 its manifest states; symlinks are recorded, not followed', async () => {
  const sink = memorySink();
  const r = await collectTriage({ paths: [join(dir, 'logs')], artifact_name: 't1', max_bytes: 10_000_000 }, sink);
  const archive = Buffer.concat(sink.parts);
  assert.equal(r.archive_sha256, sha256(archive));
  assert.equal(r.truncated, false);
  const entries = await untar(archive);
  const manifest = JSON.parse(entries.get('manifest.json')!.toString());
  assert.equal(r.manifest_sha256, sha256(entries.get('manifest.json')!));
  assert.equal(manifest.files.length, Object.keys(files).length);
  for (const f of manifest.files) {
    assert.equal(f.sha256, sha256(files[f.path]), f.path);
    assert.deepEqual(entries.get(`files${f.path}`), files[f.path]);
  }
  assert.deepEqual(manifest.symlinks, [{ path: join(dir, 'logs/link-to-passwd'), target: '/etc/passwd' }]);
  assert.ok(![...entries.keys()].some((k) => k.endsWith('passwd')), 'the link target is not collected');
});

test('the size cap stops the collection while reading', async () => {
  const sink = memorySink();
  const r = await collectTriage({ paths: [join(dir, 'logs')], artifact_name: 'capped', max_bytes: 100_000 }, sink);
  assert.equal(r.truncated, true);
  assert.ok(r.content_bytes <= 100_000);
  assert.deepEqual(r.skipped.map((s) => s.path), [join(dir, 'logs/nested/blob.bin')]);
  assert.match(r.skipped[0].reason, /size cap/);
  const entries = await untar(Buffer.concat(sink.parts));
  assert.ok(!entries.has(`files${join(dir, 'logs/nested/blob.bin')}`));
  assert.ok(Buffer.concat(sink.parts).length < 100_000 + 20_000);
});

test('the size cap also counts each entry\'s tar overhead: many empty files cannot outgrow it', async () => {
  const many = join(dir, 'many');
  mkdirSync(many);
  for (let i = 0; i < 200; i++) writeFileSync(join(many, `f${String(i).padStart(3, '0')}`), '');
  try {
    const sink = memorySink();
    const r = await collectTriage({ paths: [many], artifact_name: 'many', max_bytes: 100 * 1024 }, sink);
    assert.equal(r.truncated, true);
    assert.equal(r.file_count, 100);
  } finally {
    rmSync(many, { recursive: true });
  }
});

test('paths the agent cannot read are reported and the rest is collected', { skip: process.getuid?.() !== 0 && 'needs root to run the collector as another user' }, () => {
  const secret = join(dir, 'logs/secret');
  writeFileSync(secret, 'root only');
  chmodSync(secret, 0o600);
  const closed = join(dir, 'closed');
  mkdirSync(closed, { mode: 0o700 });
  writeFileSync(join(closed, 'inside'), 'x');
  const out = join(dir, 'out');
  mkdirSync(out, { mode: 0o777 });
  chmodSync(out, 0o777);
  try {
    const tool = fileURLToPath(new URL('./fixtures/collect.ts', import.meta.url));
    const params = { paths: [join(dir, 'logs'), closed, join(dir, 'missing')], artifact_name: 'unpriv', max_bytes: 10_000_000 };
    const stdout = execFileSync(process.execPath, [tool, join(out, 'a.tar.gz'), JSON.stringify(params)], { uid: 65534, gid: 65534 });
    const r = JSON.parse(stdout.toString());
    const unreadable = Object.fromEntries(r.unreadable.map((u: any) => [u.path, u.reason]));
    assert.deepEqual(unreadable, { [secret]: 'EACCES', [closed]: 'EACCES', [join(dir, 'missing')]: 'ENOENT' });
    assert.equal(r.file_count, Object.keys(files).length, 'every readable file is collected');
    assert.equal(r.archive_sha256, sha256(readFileSync(join(out, 'a.tar.gz'))));
  } finally {
    rmSync(secret);
    rmSync(closed, { recursive: true });
    rmSync(out, { recursive: true });
  }
});

test('the uploader keeps at most its window of chunks unacknowledged', async () => {
  const sent: ArtifactChunk[] = [];
  let maxOutstanding = 0;
  let acked = -1;
  const uploader = new ArtifactUploader({ sendArtifactChunk: (c) => { sent.push(c); return true; } }, 'ir-x', 4);
  const acker = setInterval(() => {
    maxOutstanding = Math.max(maxOutstanding, sent.length - 1 - acked);
    if (acked < sent.length - 1) uploader.onAck({ command_id: 'ir-x', seq: ++acked });
  }, 2);
  try {
    const sink = uploadSink(uploader);
    const data = randomBytes(64 * 1024);
    for (let i = 0; i < 40; i++) await sink.write(data.subarray(i * 1024, (i + 1) * 1024));
    const { sha256: digest } = await sink.end();
    assert.equal(digest, sha256(data.subarray(0, 40 * 1024)));
  } finally {
    clearInterval(acker);
  }
  assert.equal(sent.length, 40);
  assert.ok(maxOutstanding <= 5, `outstanding ${maxOutstanding}`);
  assert.equal(sent.at(-1)!.last, true);
  assert.deepEqual(sent.map((c) => c.seq), [...Array(40).keys()]);
});

test('an upload fails when the server refuses a chunk', async () => {
  const uploader = new ArtifactUploader({ sendArtifactChunk: () => true }, 'ir-y', 1);
  await uploader.send(Buffer.from('a'));
  uploader.onAck({ command_id: 'ir-y', seq: 0, error: 'artefact exceeds its limit' });
  await assert.rejects(uploader.send(Buffer.from('b')).then(() => uploader.send(Buffer.from('c'))), /exceeds its limit/);
});

test('end to end: collect and get_file reach the server, download with their SHA-256, custody in the ledger', async () => {
  const t: TestServer = await startTestServer();
  let a: TestAgent | undefined;
  try {
    a = await startTestAgent(t, join(t.dir, 'agent'));
    await until('agent connected', () => a!.agent.connected || undefined);
    const host = a.agent.agentId;
    const r = await t.api(`/hosts/${host}/collect`, { method: 'POST', body: JSON.stringify({ paths: [join(dir, 'logs')], artifact: 'incident-1', max_size_mb: 5, reason: 'incident 1 triage' }) });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    const done = await actionReaches(t, r.body.id, ['succeeded', 'failed']);
    assert.equal(done.status, 'succeeded', done.error);
    assert.ok(done.artifact_id);
    const dl = await t.api(`/ir/artifacts/${done.artifact_id}`);
    assert.equal(dl.status, 200);
    assert.equal(sha256(dl.body), done.result.archive_sha256);
    assert.equal(dl.headers.get('x-vigil-sha256'), done.result.archive_sha256);
    assert.match(dl.headers.get('content-disposition')!, /incident-1\.tar\.gz/);
    const entries = await untar(dl.body);
    assert.deepEqual(entries.get(`files${join(dir, 'logs/nested/blob.bin')}`), files[join(dir, 'logs/nested/blob.bin')]);
    const custody = t.audit.records.filter((x) => x.target === done.artifact_id);
    assert.deepEqual(custody.map((x) => x.action), ['ir.artifact.stored', 'ir.artifact.downloaded']);
    assert.ok(custody.every((x) => x.detail?.sha256 === done.result.archive_sha256));

    const f = await t.api(`/hosts/${host}/get-file`, { method: 'POST', body: JSON.stringify({ path: join(dir, 'logs/auth.log'), reason: 'auth log of incident 1' }) });
    const got = await actionReaches(t, f.body.id, ['succeeded', 'failed']);
    assert.equal(got.status, 'succeeded', got.error);
    assert.equal(got.result.sha256, sha256(files[join(dir, 'logs/auth.log')]));
    const body = (await t.api(`/ir/artifacts/${got.artifact_id}`)).body;
    assert.deepEqual(body, files[join(dir, 'logs/auth.log')]);

    const missing = await t.api(`/hosts/${host}/get-file`, { method: 'POST', body: JSON.stringify({ path: join(dir, 'nope'), reason: 'missing file' }) });
    assert.match((await actionReaches(t, missing.body.id, ['failed'])).error, /ENOENT/);
    assert.equal((await t.api('/ir/artifacts/art-00000000-0000-0000-0000-000000000000')).status, 404);
  } finally {
    await a?.agent.stop();
    await t.stop();
  }
});
