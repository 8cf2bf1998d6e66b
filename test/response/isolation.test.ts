// Host isolation with real nftables in network namespaces created here: an "agent" namespace joined by a veth
// pair to a "network" namespace holding the management server's addresses and other hosts' addresses (IPv4 and
// IPv6). The agent's own isolation code runs inside the agent namespace. Isolated: the management address and port
// stay reachable, the configured DNS answers, everything else (v4 and v6, other ports too) does not; release
// restores everything; a restart re-applies the persisted state even after the rules were flushed.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { isolationScript, ISOLATION_TABLE } from '../../src/agent/response/nftables.ts';

const TOOL = fileURLToPath(new URL('./fixtures/net-tool.ts', import.meta.url));
const NODE = process.execPath;
const id = randomBytes(3).toString('hex');
const AG = `vr-ag-${id}`;
const NET = `vr-net-${id}`;
const octet = 1 + (parseInt(id, 16) % 250);
const v4 = (host: number) => `10.${octet}.77.${host}`;
const v6 = (host: number) => `fd77:${id.slice(0, 4)}::${host}`;
const MGMT_PORT = 8443;
const OTHER_PORT = 9000;
const spec = { managementAddresses: [v4(1), v6(1)], managementPort: MGMT_PORT, dns: [v4(2), v6(2)] };

function available(): string | false {
  if (process.getuid?.() !== 0) return 'needs root';
  try {
    execFileSync('nft', ['--version']);
    execFileSync('ip', ['-V']);
    return false;
  } catch {
    return 'needs nft and ip';
  }
}
const skip = available();

const sh = (...args: string[]) => execFileSync(args[0], args.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const inNs = (ns: string, ...args: string[]) => sh('ip', 'netns', 'exec', ns, ...args);

let listener: ChildProcess | undefined;
let dataDir: string;

before(async () => {
  if (skip) return;
  dataDir = mkdtempSync(join(tmpdir(), 'vigil-isolation-'));
  sh('ip', 'netns', 'add', AG);
  sh('ip', 'netns', 'add', NET);
  sh('ip', 'link', 'add', `vra${id}`, 'netns', AG, 'type', 'veth', 'peer', 'name', `vrn${id}`, 'netns', NET);
  for (const [ns, dev, hosts] of [[AG, `vra${id}`, [10]], [NET, `vrn${id}`, [1, 2, 3]]] as const) {
    inNs(ns, 'ip', 'link', 'set', 'lo', 'up');
    for (const h of hosts) {
      inNs(ns, 'ip', 'addr', 'add', `${v4(h)}/24`, 'dev', dev);
      inNs(ns, 'ip', '-6', 'addr', 'add', `${v6(h)}/64`, 'dev', dev, 'nodad');
    }
    inNs(ns, 'ip', 'link', 'set', dev, 'up');
  }
  listener = spawn('ip', ['netns', 'exec', NET, NODE, TOOL, 'listen', String(MGMT_PORT), String(OTHER_PORT), '--', v4(2), v6(2), v6(3)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    listener!.stdout!.once('data', () => resolve());
    listener!.once('exit', (code) => reject(new Error(`listener exited ${code}`)));
  });
});

after(() => {
  if (skip) return;
  listener?.kill();
  for (const ns of [AG, NET]) {
    try { sh('ip', 'netns', 'del', ns); } catch { /* already gone */ }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

const TARGETS = [
  { name: 'management v4', proto: 'tcp', host: v4(1), port: MGMT_PORT },
  { name: 'management v6', proto: 'tcp', host: v6(1), port: MGMT_PORT },
  { name: 'dns v4', proto: 'udp', host: v4(2), port: 53 },
  { name: 'dns v6', proto: 'udp', host: v6(2), port: 53 },
  { name: 'management v4, other port', proto: 'tcp', host: v4(1), port: OTHER_PORT },
  { name: 'management v6, other port', proto: 'tcp', host: v6(1), port: OTHER_PORT },
  { name: 'other host v4', proto: 'tcp', host: v4(3), port: MGMT_PORT },
  { name: 'other host v6', proto: 'tcp', host: v6(3), port: MGMT_PORT },
  { name: 'dns host, not dns v4', proto: 'tcp', host: v4(2), port: OTHER_PORT },
  { name: 'other host udp v6', proto: 'udp', host: v6(3), port: 53 },
] as const;
const ALLOWED = new Set(['management v4', 'management v6', 'dns v4', 'dns v6']);

/** Which targets the agent namespace can reach, by name. */
function reachable(): Record<string, boolean> {
  const out = JSON.parse(inNs(AG, NODE, TOOL, 'probe', JSON.stringify(TARGETS))) as Record<string, boolean>;
  return Object.fromEntries(TARGETS.map((t) => [t.name, out[`${t.host}:${t.port}/${t.proto}`]]));
}

/**
 * Asserts what is reachable; probes up to three times, because a first probe under load can lose a race with
 * neighbour discovery (a real block never turns into a connection, so retrying cannot hide one).
 */
function assertReachable(expected: Record<string, boolean>): void {
  let seen = reachable();
  for (let i = 0; i < 2 && !isDeepStrictEqual(seen, expected); i++) seen = reachable();
  assert.deepEqual(seen, expected);
}

const everything = () => Object.fromEntries(TARGETS.map((t) => [t.name, true]));
const isolatedView = () => Object.fromEntries(TARGETS.map((t) => [t.name, ALLOWED.has(t.name)]));
const agent = (op: string) => JSON.parse(inNs(AG, NODE, TOOL, 'agent', dataDir, op, JSON.stringify(spec))) as { isolated: boolean };
const tablePresent = () => inNs(AG, 'nft', 'list', 'tables').includes(`inet ${ISOLATION_TABLE}`);

test('the generated rulesets are accepted by nft (dry run)', { skip }, () => {
  const path = join(dataDir, 'ruleset.nft');
  for (const variant of [spec, { ...spec, servedPorts: [8440, 8443] }, { ...spec, dns: [] }]) {
    writeFileSync(path, isolationScript(variant));
    inNs(AG, 'nft', '-c', '-f', path);
  }
});

test('before isolation everything is reachable', { skip }, () => {
  assertReachable(everything());
});

test('isolated: only the management address and port and the DNS resolvers are reachable, IPv4 and IPv6', { skip }, () => {
  inNs(AG, 'nft', 'add', 'table', 'inet', 'someone_else');
  assert.deepEqual(agent('isolate'), { isolated: true });
  assert.ok(tablePresent());
  assertReachable(isolatedView());
});

test('an agent restart keeps isolation, and re-applies it when the rules were flushed', { skip }, () => {
  assert.deepEqual(agent('start'), { isolated: true });
  assertReachable(isolatedView());
  inNs(AG, 'nft', 'delete', 'table', 'inet', ISOLATION_TABLE); // e.g. a reboot or an administrator's flush
  assertReachable(everything());
  assert.deepEqual(agent('start'), { isolated: true });
  assertReachable(isolatedView());
});

test('release restores everything and leaves other tables alone; a restart keeps it released', { skip }, () => {
  assert.deepEqual(agent('release'), { isolated: false });
  assert.equal(tablePresent(), false);
  assert.ok(inNs(AG, 'nft', 'list', 'tables').includes('inet someone_else'), 'another table is untouched');
  assertReachable(everything());
  assert.deepEqual(agent('start'), { isolated: false });
  assertReachable(everything());
});
