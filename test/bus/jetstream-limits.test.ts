// The JetStream bus's disk bounds, on real NATS: every stream's max_bytes is its share of the events stream's
// bound, and a NATS store too small for those reservations is refused with an error that names the stream,
// the bound and the cure (a private nats-server with max_file_store 8 MiB).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { JetStreamBus, VIGIL_STREAMS, streamMaxBytes } from '../../src/bus/jetstream.ts';
import { jsonCodec } from '../../src/bus/codec.ts';
import { freePort } from '../fixtures/vigil-roles.ts';

const NATS = process.env.VIGIL_TEST_NATS ?? '127.0.0.1:4222';
const NATS_SERVER = process.env.VIGIL_TEST_NATS_SERVER ?? '/usr/sbin/nats-server';
const MIB = 2 ** 20;

test('every stream is bounded by its share of --bus-max-bytes; the small streams reserve little', async () => {
  const namespace = `lim${randomBytes(4).toString('hex')}`;
  const bus = await JetStreamBus.connect({ servers: NATS, codec: jsonCodec(), namespace, maxBytes: 400 * MIB });
  const nc = await connect({ servers: NATS });
  try {
    const jsm = await jetstreamManager(nc);
    const bounds: Record<string, number> = {};
    for (const spec of VIGIL_STREAMS) bounds[spec.name] = (await jsm.streams.info(`${namespace.toUpperCase()}_${spec.name}`)).config.max_bytes;
    assert.deepEqual(bounds, { EVENTS: 400 * MIB, ALERTS: 40 * MIB, IR_COMMANDS: 10 * MIB, IR_REPORTS: 100 * MIB, RULE_UPDATES: 2.5 * MIB });
  } finally {
    await nc.close();
    await bus.close();
    await JetStreamBus.deleteStreams(NATS, namespace);
  }
  const defaults = VIGIL_STREAMS.reduce((sum, spec) => sum + streamMaxBytes(spec), 0);
  assert.ok(defaults < 15 * 2 ** 30, `a default deployment reserves ${defaults} bytes, under 15 GiB`);
});

test('a NATS store too small for the bounds: the error names the stream, its bound and the flag', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vigil-js-limits-'));
  const port = await freePort();
  writeFileSync(join(dir, 'nats.conf'), `jetstream { store_dir: "${join(dir, 'store')}", max_file_store: 8MB }\n`);
  const server: ChildProcess = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-c', join(dir, 'nats.conf')], { stdio: 'ignore' });
  t.after(async () => {
    if (server.exitCode === null) { server.kill('SIGTERM'); await once(server, 'exit'); }
    rmSync(dir, { recursive: true, force: true });
  });
  const servers = `127.0.0.1:${port}`;
  await waitForNats(servers);
  await assert.rejects(
    JetStreamBus.connect({ servers, codec: jsonCodec(), maxBytes: 64 * MIB }),
    (err: Error) => {
      assert.match(err.message, /cannot create stream VIGIL_EVENTS: JetStream cannot reserve its bound of 67108864 bytes/);
      assert.match(err.message, /lower --bus-max-bytes/);
      return true;
    },
  );
  const bus = await JetStreamBus.connect({ servers, codec: jsonCodec(), maxBytes: 4 * MIB });
  await bus.publish({ subject: 'events.t1.h1', id: 'm1', payload: { n: 1 } });
  await bus.close();
});

async function waitForNats(servers: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await (await connect({ servers })).close();
      return;
    } catch (err) {
      if (i === 100) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
