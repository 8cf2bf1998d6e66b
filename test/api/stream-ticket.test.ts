// GET /stream without a credential in the URL, against a real embedded server (test/api/support.ts): a ticket from
// POST /stream/ticket (authenticated by header) opens the stream once; a second use, another process's use after
// it, an expired, forged or tampered ticket, and `?access_token=` (no longer accepted anywhere) are 401; a
// ticket of a credential revoked meanwhile is refused at redemption. Tickets of one API process are redeemed by
// another that shares its keys and identity store (here: two StreamTickets over one real SQLite identity store
// and one access-token key file, as two processes of one data directory have).

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamTickets } from '../../src/api/stream-ticket.ts';
import { AuthError } from '../../src/identity/errors.ts';
import { loadOrCreateAccessTokenKey, openIdentityStore } from '../../src/stores/identity/open.ts';
import { call, login, startFixture, type Fixture } from './support.ts';

let f: Fixture;
before(async () => { f = await startFixture(); });
after(async () => f?.stop());

async function ticketFor(token: string): Promise<string> {
  const r = await call(f, 'POST', '/stream/ticket', { token });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.expires_in, 30);
  assert.ok(!r.body.ticket.includes(token), 'the ticket does not show the credential');
  return r.body.ticket as string;
}

/** Opens /stream with `query`; resolves with the status and, for a stream, its first event. */
async function openStream(query: string, headers: Record<string, string> = {}): Promise<{ status: number; first: string; body?: any }> {
  const ctl = new AbortController();
  const res = await fetch(`${f.server.httpUrl}/api/v1/stream${query}`, { headers, signal: ctl.signal });
  if (res.status !== 200) return { status: res.status, first: '', body: await res.json() };
  const reader = res.body!.getReader();
  const { value } = await reader.read();
  ctl.abort();
  return { status: 200, first: new TextDecoder().decode(value) };
}

test('a ticket opens the stream once; the second use is refused', async () => {
  const ticket = await ticketFor(f.tokens.analyst);
  const first = await openStream(`?ticket=${encodeURIComponent(ticket)}`);
  assert.equal(first.status, 200);
  assert.match(first.first, /^event: ready\ndata: \{"tenant_id":"default"\}/);
  const again = await openStream(`?ticket=${encodeURIComponent(ticket)}`);
  assert.equal(again.status, 401);
  assert.equal(again.body.code, 'revoked');
  // An API key's ticket works the same way.
  assert.equal((await openStream(`?ticket=${encodeURIComponent(await ticketFor(f.adminKey))}`)).status, 200);
});

test('a credential in the URL is never accepted, and a forged or tampered ticket is refused', async () => {
  for (const token of [f.tokens.analyst, f.adminKey]) {
    const r = await openStream(`?access_token=${encodeURIComponent(token)}`);
    assert.equal(r.status, 401, 'access_token in the query string is not a credential');
    assert.equal(r.body.code, 'unauthenticated');
    // Nor is a credential passed as if it were a ticket.
    assert.equal((await openStream(`?ticket=${encodeURIComponent(token)}`)).status, 401);
  }
  const ticket = await ticketFor(f.tokens.analyst);
  const parts = ticket.split('.');
  parts[3] = parts[3].slice(0, -2) + (parts[3].endsWith('AA') ? 'BB' : 'AA'); // the ciphertext
  const tampered = await openStream(`?ticket=${encodeURIComponent(parts.join('.'))}`);
  assert.equal(tampered.status, 401);
  assert.equal(tampered.body.code, 'malformed');
  assert.equal((await openStream('?ticket=not-a-ticket')).status, 401);
  // The header still works on its own (API clients that can send it need no ticket).
  assert.equal((await openStream('', { authorization: `Bearer ${f.tokens.analyst}` })).status, 200);
});

test('POST /stream/ticket needs a credential in the header and the stream permission', async () => {
  assert.equal((await call(f, 'POST', '/stream/ticket')).status, 401);
  const ticket = await ticketFor(f.tokens.viewer);
  // A ticket is not a credential for anything else.
  assert.equal((await call(f, 'GET', '/hosts', { token: ticket })).status, 401);
  assert.equal((await call(f, 'POST', '/stream/ticket', { token: ticket })).status, 401);
});

test('a ticket whose credential was revoked after it was issued is refused at redemption', async () => {
  const session = await login(f, 'viewer@default.test');
  const ticket = await ticketFor(session.access_token);
  assert.equal((await call(f, 'POST', '/auth/logout', { token: session.access_token, body: { refresh_token: session.refresh_token } })).status, 204);
  const r = await openStream(`?ticket=${encodeURIComponent(ticket)}`);
  assert.equal(r.status, 401);
  assert.equal(r.body.code, 'revoked');
});

test('tickets are redeemed by any process sharing the keys, once across all of them, and expire after 30 s', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-tickets-'));
  const identity = await openIdentityStore({ dataDir: dir });
  try {
    let now = Date.now();
    const clock = () => now;
    // Two API processes of one deployment: the same access-token key file, the same identity store.
    const a = new StreamTickets({ key: loadOrCreateAccessTokenKey(dir), identity, clock });
    const b = new StreamTickets({ key: loadOrCreateAccessTokenKey(dir), identity, clock });
    const { ticket } = await a.issue('the-credential');
    assert.equal(await b.redeem(ticket), 'the-credential', 'issued by one process, redeemed by another');
    await assert.rejects(a.redeem(ticket), (e: unknown) => e instanceof AuthError && e.code === 'revoked', 'then refused by the issuer');
    await assert.rejects(b.redeem(ticket), (e: unknown) => e instanceof AuthError && e.code === 'revoked', 'and by the redeemer');
    // Another deployment (another key) cannot read it.
    const stranger = new StreamTickets({ key: loadOrCreateAccessTokenKey(join(dir, 'other')), clock });
    await assert.rejects(stranger.redeem((await a.issue('x')).ticket), (e: unknown) => e instanceof AuthError && e.code === 'malformed');
    const late = (await a.issue('late')).ticket;
    now += 31_000;
    await assert.rejects(b.redeem(late), (e: unknown) => e instanceof AuthError && e.code === 'expired');
  } finally {
    await identity.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
