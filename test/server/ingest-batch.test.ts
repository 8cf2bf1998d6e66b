// Accepted batches and their bus forms (ingest-batch.ts): the message form reads back as the same events
// as the JSON form, key for key; it is used only when every event passed as sent; the JSON encoder writes
// exactly JSON.stringify's bytes; publishing times the bus's acknowledgement.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { VigilEvent } from '../../src/schema/event.ts';
import { BOUNDS } from '../../src/schema/validate.ts';
import { decodeAgentMessage, encodeSchemaEventsPayload, frameBatch } from '../../src/schema/wire.ts';
import { acceptBatch, encodeAcceptedBatch, eventBatchCodec, publishingBatches, type Stamp } from '../../src/server/ingest-batch.ts';

const stamp: Stamp = { agentId: 'agt-1', tenantId: 'default', ingested: '2026-02-15T12:35:00.000Z' };

function event(i: number, extra: Partial<VigilEvent> = {}): VigilEvent {
  return {
    '@timestamp': '2026-02-15T12:34:56.789Z',
    agent: { id: 'agt-claimed', hostname: 'h', tenant_id: 'other', version: '1' },
    event: { id: `e${i}`, type: 'process_start', category: 'process', action: 'exec', sequence: i },
    process: { pid: 100 + i, entity_id: `p${i}`, executable: '/usr/bin/ß', args: ['ß', `☃ ${i}`, '𝄞'], parent: { pid: 1 } },
    user: { id: '1000' }, host: { id: 'agt-1', hostname: 'h', os: { platform: 'linux' } },
    labels: { 'ü': 'v', ['__proto__']: 'own' },
    ...extra,
  };
}

/** What ingest does with an agent's message: decode, accept. */
function accept(events: VigilEvent[]) {
  const message = frameBatch(7, encodeSchemaEventsPayload(events));
  const msg = decodeAgentMessage(message);
  if (msg.body !== 'batch') throw new Error('not a batch');
  return acceptBatch(stamp, message, msg.batch.events);
}

test('a batch accepted as sent goes on the bus as the message, and reads back as its events would in JSON, key for key', () => {
  const { batch, errors, truncated } = accept([event(1), event(2, { agent: { id: 'x', tenant_id: 'y' } }), event(3, { agent: undefined })]);
  assert.deepEqual([errors, truncated], [[], 0]);
  assert.ok(batch.message);
  const fromMessage = eventBatchCodec.decode(encodeAcceptedBatch(batch));
  const fromJson = eventBatchCodec.decode(encodeAcceptedBatch({ ...batch, message: undefined }));
  assert.equal(JSON.stringify(fromMessage), JSON.stringify(fromJson));
  assert.deepEqual(fromMessage, fromJson);
  assert.deepEqual(fromMessage, batch.events);
  for (const e of fromMessage) {
    assert.deepEqual([e.agent.id, e.agent.tenant_id, e.event.ingested], [stamp.agentId, stamp.tenantId, stamp.ingested]);
    assert.ok(Object.hasOwn(e.labels!, '__proto__'));
  }
  assert.ok(encodeAcceptedBatch(batch).length < encodeAcceptedBatch({ ...batch, message: undefined }).length / 1.5);
});

test('a batch with a rejected or a cut event goes on the bus as JSON of the events that are stored', () => {
  const rejected = accept([event(1), event(2, { event: { id: '', type: 'ptrace' } })]);
  assert.equal(rejected.errors.length, 1);
  assert.equal(rejected.batch.message, undefined);
  assert.deepEqual(eventBatchCodec.decode(encodeAcceptedBatch(rejected.batch)), rejected.batch.events);
  const cut = accept([event(1, { process: { pid: 1, command_line: 'x'.repeat(BOUNDS.commandLine + 1) } })]);
  assert.equal(cut.truncated, 1);
  assert.equal(cut.batch.message, undefined);
  const [stored] = eventBatchCodec.decode(encodeAcceptedBatch(cut.batch));
  assert.equal(stored.process!.command_line!.length, BOUNDS.commandLine);
  assert.deepEqual(stored.event.truncated, ['process.command_line']);
});

test('the JSON encoder writes exactly what JSON.stringify writes', () => {
  const big = event(9, { process: { pid: 1, args: Array.from({ length: 3000 }, (_, i) => `${'é☃𝄞'.repeat(i % 7)}-${i}`) } });
  for (const events of [[], [event(1)], [event(1), big, event(2)], Array.from({ length: 300 }, (_, i) => event(i))]) {
    const bytes = eventBatchCodec.encode(events);
    assert.equal(Buffer.from(bytes).toString('utf8'), JSON.stringify(events));
    assert.deepEqual(eventBatchCodec.decode(bytes), JSON.parse(JSON.stringify(events)));
  }
});

test('publishing a batch hands the bus its encoded form and reports the time until the bus acknowledged it', async () => {
  const { batch } = accept([event(1)]);
  const published: { subject: string; id: string; payload: Uint8Array }[] = [];
  const times: number[] = [];
  const slowBus = { publish: async (m: { subject: string; id: string; payload: Uint8Array }) => { await new Promise((r) => setTimeout(r, 30)); published.push(m); } };
  await publishingBatches(slowBus, (s) => times.push(s)).publish({ subject: 'events.default.agt-1', id: 'b1', payload: batch });
  assert.deepEqual(published.map((m) => [m.subject, m.id, Buffer.from(m.payload).equals(encodeAcceptedBatch(batch))]), [['events.default.agt-1', 'b1', true]]);
  assert.equal(times.length, 1);
  assert.ok(times[0] >= 0.025 && times[0] < 5, `publish → ack ${times[0]} s`);
  const failing = { publish: async () => { throw new Error('no PubAck'); } };
  await assert.rejects(publishingBatches(failing, (s) => times.push(s)).publish({ subject: 'events.default.agt-1', id: 'b2', payload: batch }), /no PubAck/);
  assert.equal(times.length, 1, 'a failed publish is not timed');
});
