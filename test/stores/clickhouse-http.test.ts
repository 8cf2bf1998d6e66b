// The ClickHouse HTTP engine's own duties, beyond the event-store conformance suite: a deduplication token
// per insert derived from its bytes, ClickHouse errors surfaced with their codes, ping, parameter binding.
// Runs against the test fixture server (in this process: this file opens no other chdb engine).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClickHouseHttpEngine, insertDeduplicationToken } from '../../src/stores/events/clickhouse-http.ts';
import { ClickHouseHttpFixture } from '../fixtures/clickhouse-http-server.ts';

let dir: string;
let fixture: ClickHouseHttpFixture;
let engine: ClickHouseHttpEngine;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vigil-chhttp-'));
  fixture = await ClickHouseHttpFixture.start(dir);
  engine = new ClickHouseHttpEngine({ url: fixture.url });
});
after(async () => {
  await engine.close();
  await fixture.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('ping answers', async () => {
  assert.equal(await engine.ping(), true);
});

test('each insert carries a deduplication token derived from table and bytes', async () => {
  await engine.query('CREATE TABLE IF NOT EXISTS kv (k String, v UInt32) ENGINE = MergeTree ORDER BY k');
  const rows = Buffer.from('{"k":"a","v":1}\n{"k":"b","v":2}');
  await engine.insertJsonEachRow('kv', rows);
  const token = fixture.lastInsertSettings.insert_deduplication_token;
  assert.equal(token, insertDeduplicationToken('kv', rows));
  assert.notEqual(insertDeduplicationToken('kv', Buffer.from('{"k":"a","v":1}')), token);
  assert.notEqual(insertDeduplicationToken('other', rows), token);
  assert.equal(fixture.lastInsertSettings.date_time_input_format, 'best_effort');
  assert.deepEqual(await engine.query('SELECT k, v FROM kv ORDER BY k'), [{ k: 'a', v: 1 }, { k: 'b', v: 2 }]);
});

test('binds string, number and array parameters, including quotes and backslashes', async () => {
  const tricky = "it's a \\ back\tslash";
  const [row] = await engine.query<{ s: string; n: number; has: number }>(
    'SELECT {s:String} AS s, {n:UInt32} + 1 AS n, has({a:Array(String)}, {s:String}) AS has',
    { s: tricky, n: 41, a: ['x', tricky] });
  assert.deepEqual(row, { s: tricky, n: 42, has: 1 });
});

test('server errors keep their ClickHouse code and message; refuses a bad table name', async () => {
  await assert.rejects(engine.query('SELEC 1'), (err: Error & { code?: string }) => err.code === '62' && /Syntax error/.test(err.message));
  await assert.rejects(engine.query('SELECT * FROM no_such_table'), (err: Error & { code?: string }) => err.code === '60');
  await assert.rejects(engine.query('SELECT {n:UInt32}', { n: 'abc' }), (err: Error & { code?: string }) => err.code === '457');
  await assert.rejects(engine.insertJsonEachRow('kv; DROP TABLE kv', Buffer.from('{}')), /invalid table name/);
});
