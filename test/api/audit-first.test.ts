// Every state-changing API call is recorded as `started` before its handler runs: while the ledger cannot take
// that record the call is refused with 503 and changes nothing; once it can, the call is recorded twice, as
// started and with its outcome.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AuditRecord } from '../../src/ledger/sink.ts';
import { call, startFixture, type Fixture } from './support.ts';

let f: Fixture;
before(async () => { f = await startFixture(); });
after(() => f.stop());

test('a call whose started record fails is refused with 503 and changes nothing; otherwise it is recorded before and after', async () => {
  const ledger = f.server.security.ledger;
  const record = ledger.record.bind(ledger);
  const tokens = async () => (await call(f, 'GET', '/enrollment-tokens', { token: f.adminKey })).body.enrollment_tokens.length as number;
  const before = await tokens();
  ledger.record = async (r: AuditRecord) => {
    if (r.outcome === 'started') throw new Error('ledger unavailable');
    return record(r);
  };
  try {
    const refused = await call(f, 'POST', '/enrollment-tokens', { token: f.adminKey, body: {} });
    assert.deepEqual([refused.status, refused.body.code], [503, 'audit_unavailable']);
    assert.equal(await tokens(), before, 'no token was made without its record');
  } finally {
    ledger.record = record;
  }
  const made = await call(f, 'POST', '/enrollment-tokens', { token: f.adminKey, body: {} });
  assert.equal(made.status, 201);
  assert.equal(await tokens(), before + 1);
  const requestId = made.headers.get('x-request-id');
  const page = await call(f, 'GET', '/ledger/entries?from=0&limit=1000', { token: f.adminKey });
  let entries = page.body.entries;
  for (let next = page.body.next; next !== null;) {
    const more = await call(f, 'GET', `/ledger/entries?from=${next}&limit=1000`, { token: f.adminKey });
    entries = entries.concat(more.body.entries);
    next = more.body.next;
  }
  assert.deepEqual(entries.filter((e: any) => e.request_id === requestId).map((e: any) => e.outcome), ['started', 'success']);
});
