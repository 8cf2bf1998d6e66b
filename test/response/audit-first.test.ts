// A command's change of status is recorded in the audit ledger before it is stored: while the ledger refuses the
// record, the command stays where it was (it never reaches a status without its record), and once the ledger
// takes records again the change happens, with its record.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { AuditRecord } from '../../src/ledger/sink.ts';
import { MemoryAudit, startTestAgent, startTestServer, until } from './helpers.ts';

class FlakyAudit extends MemoryAudit {
  failing = new Set<string>();
  override async record(r: AuditRecord): Promise<void> {
    if (this.failing.has(r.action)) throw new Error(`ledger unavailable for ${r.action}`);
    await super.record(r);
  }
}

test('a status change whose audit record fails is not stored; it happens with its record once the ledger works', async () => {
  const audit = new FlakyAudit();
  const t = await startTestServer({ expirySweepMs: 100 }, audit);
  try {
    const a = await startTestAgent(t, join(t.dir, 'agent'));
    await until('agent connected', () => a.agent.connected || undefined);
    await a.agent.stop(); // offline: the command waits, then expires
    audit.failing.add('ir.expired');
    const r = await t.api(`/hosts/${a.agent.agentId}/list-processes`, { method: 'POST', body: JSON.stringify({ expires_in_s: 1 }) });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    await new Promise((res) => setTimeout(res, 2000)); // twenty sweeps past its expiry, each refused by the ledger
    const held = (await t.api(`/ir/actions/${r.body.id}`)).body;
    assert.notEqual(held.status, 'expired', 'no expiry without its record');
    assert.deepEqual(audit.actionsFor(r.body.id), ['ir.requested']);
    audit.failing.clear();
    await until('the expiry, now recorded', async () => (await t.api(`/ir/actions/${r.body.id}`)).body.status === 'expired' || undefined);
    assert.deepEqual(audit.actionsFor(r.body.id), ['ir.requested', 'ir.expired']);
  } finally {
    await t.stop();
  }
});
