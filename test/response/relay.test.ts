// The relay's pure wire forms (src/response/relay.ts): subjects, reports and agent-bound messages as they
// travel over JetStream, and the precise refusal of malformed ones. The relay itself runs end to end in
// test/scale/response.test.ts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  chunkReport, commandSubject, decodeAgentBound, decodeReport, RelayError, reportSubject, targetOf,
} from '../../src/response/relay.ts';

const agent = { tenantId: 'acme', agentId: 'agt-0123' };

test('subjects carry the tenant and the host, and parse back', () => {
  assert.equal(commandSubject(agent), 'ir.acme.agt-0123');
  assert.equal(reportSubject(agent), 'ir-reports.acme.agt-0123');
  assert.deepEqual(targetOf(commandSubject(agent)), agent);
  assert.deepEqual(targetOf(reportSubject(agent)), agent);
  assert.throws(() => targetOf('ir.acme'), RelayError);
  assert.throws(() => targetOf('ir.acme.agt.extra'), RelayError);
});

test('an artefact chunk survives the JSON trip byte for byte', () => {
  const data = new Uint8Array([0, 1, 2, 250, 255]);
  const wire = JSON.parse(JSON.stringify(chunkReport({ command_id: 'ir-1', seq: 3, data, last: true, sha256: 'ab' })));
  const r = decodeReport(wire);
  assert.equal(r.kind, 'chunk');
  if (r.kind !== 'chunk') return;
  assert.deepEqual([...Buffer.from(r.data_b64, 'base64')], [...data]);
  assert.deepEqual({ ...r, data_b64: undefined }, { kind: 'chunk', command_id: 'ir-1', seq: 3, last: true, sha256: 'ab', data_b64: undefined });
});

test('reports are checked field by field', () => {
  assert.deepEqual(decodeReport({ kind: 'connected' }), { kind: 'connected' });
  assert.deepEqual(decodeReport({ kind: 'delivered', command_id: 'ir-1' }), { kind: 'delivered', command_id: 'ir-1' });
  assert.deepEqual(decodeReport({ kind: 'result', result: { id: 'ir-1', status: 'succeeded', result_json: '{}' } }),
    { kind: 'result', result: { id: 'ir-1', status: 'succeeded', result_json: '{}', error: undefined } });
  const refusals: [unknown, RegExp][] = [
    [null, /not an object/],
    [{ kind: 'other' }, /unknown kind "other"/],
    [{ kind: 'delivered' }, /'command_id' must be a string/],
    [{ kind: 'result', result: 'x' }, /'result' must be an object/],
    [{ kind: 'result', result: { id: 'ir-1', status: 2 } }, /'status' must be a string/],
    [{ kind: 'chunk', command_id: 'ir-1', seq: -1, last: false, data_b64: '' }, /seq must be a non-negative integer/],
    [{ kind: 'chunk', command_id: 'ir-1', seq: 0, last: false, data_b64: 'not base64!' }, /not base64/],
    [{ kind: 'chunk', command_id: 'ir-1', seq: 0, last: 'yes', data_b64: '' }, /'last' must be a boolean/],
  ];
  for (const [v, reason] of refusals) assert.throws(() => decodeReport(v), (err: Error) => err instanceof RelayError && reason.test(err.message), String(reason));
});

test('only commands and artefact acks are relayed to agents', () => {
  const command = { body: 'command', command: { id: 'ir-1', action: 'list_processes', params_json: '{}' } };
  assert.deepEqual(decodeAgentBound(command), { body: 'command', command: { ...command.command, requested_by: undefined, requested_at: undefined, expires_at: undefined } });
  assert.deepEqual(decodeAgentBound({ body: 'artifact_ack', artifact_ack: { command_id: 'ir-1', seq: 2 } }),
    { body: 'artifact_ack', artifact_ack: { command_id: 'ir-1', seq: 2, error: undefined } });
  assert.throws(() => decodeAgentBound({ body: 'policy', policy: {} }), /body "policy" is not relayed/);
  assert.throws(() => decodeAgentBound({ body: 'command', command: { id: 'ir-1' } }), /'action' must be a string/);
  assert.throws(() => decodeAgentBound({ body: 'command', command: { id: 'ir-1', action: 'list_processes', params_json: {} } }), /'params_json' must be a string/);
});
