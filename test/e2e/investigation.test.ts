// The analyst's path on this very host: `vigil up` with SigmaHQ's Linux rules (loaded at run time from
// ../shared/sigma) and its real sensor; the live tree holds the host's processes (compared with /proc), and a
// scripted chain of harmless attacker steps, each a short-lived process, raises an alert per step whose
// ancestors reach the scenario's root shell, with the file path on file alerts, and no alert about Vigil.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { apiGet, eventually, startVigil, type VigilProcess } from '../support/vigil-process.ts';

const SIGMA_LINUX = fileURLToPath(new URL('../../../shared/sigma/rules/linux', import.meta.url));

/** Non-kernel processes in /proc with their start times (field 22 of stat, in clock ticks since boot). */
function procProcesses(): Map<number, number> {
  const out = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`).length === 0) continue; // a kernel thread (or a zombie)
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      out.set(Number(name), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]));
    } catch { /* gone meanwhile */ }
  }
  return out;
}

function treePids(roots: any[]): Set<number> {
  const out = new Set<number>();
  const walk = (n: any) => { out.add(n.pid); n.children.forEach(walk); };
  roots.forEach(walk);
  return out;
}

/** Each harmless step, the rule title it must raise, and what the step runs (one short-lived process or more). */
function scenario(dir: string, tag: string): { script: string; steps: { rule: string; file?: string }[] } {
  const cron = `/etc/cron.d/vigil-test-${tag}`;
  const steps = [
    { rule: 'Process Execution From Shared Memory Directory' },
    { rule: 'Decode Base64 Encoded Text' },
    { rule: 'Potential Netcat Reverse Shell Execution' },
    { rule: 'Setuid and Setgid' },
    { rule: 'New Cron File Created', file: cron },
    { rule: 'Python Spawning Pretty TTY Via PTY Module' },
  ];
  const script = `#!/bin/bash
cp /bin/true /dev/shm/vigil-${tag} && /dev/shm/vigil-${tag}; rm -f /dev/shm/vigil-${tag}
echo ZWNobyBkZWNvZGVk | base64 -d | sh
cp /bin/true ${dir}/nc && ${dir}/nc -c /bin/sh 127.0.0.1 9
touch ${dir}/suid && sh -c 'chown root ${dir}/suid && chmod u+s ${dir}/suid'
echo '# vigil test' > ${cron}; rm -f ${cron}
python3 -c "import pty;pty.spawn('/bin/true')"
`;
  return { script, steps };
}

async function alertsWith(v: VigilProcess): Promise<any[]> {
  const { alerts } = await apiGet(v, '/api/v1/alerts?limit=1000');
  return Promise.all(alerts.map((a: any) => apiGet(v, `/api/v1/alerts/${a.id}`)));
}

test('an attack chain on this host: every step alerts with its lineage to the root shell; the tree holds the host; Vigil never alerts on itself', { timeout: 240_000 }, async (t) => {
  if (process.getuid?.() !== 0 || !existsSync('/sys/kernel/btf/vmlinux')) return t.skip('needs root and kernel BTF for the eBPF sensor');
  if (!existsSync(SIGMA_LINUX)) return t.skip(`SigmaHQ rules not found at ${SIGMA_LINUX}`);
  const dir = mkdtempSync(join(tmpdir(), 'vigil-investigation-'));
  const data = join(dir, 'data');
  const vigil = await startVigil(['up', '--data-dir', data, '--http', '127.0.0.1:0', '--grpc', '127.0.0.1:0', '--rules', SIGMA_LINUX], data, 120_000);
  try {
    const host = await eventually(async () => (await apiGet(vigil, '/api/v1/hosts')).hosts.find((h: any) => h.sensor_mode), 30_000, 'the local agent');
    assert.equal(host.sensor_mode, 'ebpf', `the local agent runs the eBPF sensor: ${JSON.stringify(host.health)}`);

    // The live tree: every process that runs now and ran a second ago (one that started or ended meanwhile
    // is in flight), through the start-up snapshot.
    await eventually(async () => {
      const before = procProcesses();
      await new Promise((r) => setTimeout(r, 2500));
      const after = procProcesses();
      const stable = [...before].filter(([pid, start]) => after.get(pid) === start).map(([pid]) => pid);
      const inTree = treePids((await apiGet(vigil, `/api/v1/hosts/${host.id}/process-tree`)).roots);
      const missing = stable.filter((pid) => !inTree.has(pid));
      return missing.length <= stable.length * 0.01 ? true : undefined;
    }, 60_000, 'the live tree to hold at least 99 % of the host\'s processes');

    const tag = randomBytes(4).toString('hex');
    const { script, steps } = scenario(dir, tag);
    writeFileSync(join(dir, 'scenario.sh'), script, { mode: 0o755 });
    const shell = spawn('/bin/bash', [join(dir, 'scenario.sh')], { stdio: 'ignore' });
    await new Promise((r) => shell.once('exit', r));
    const root = await eventually(async () => {
      const { events } = await apiGet(vigil, `/api/v1/events?type=process_start&q=${encodeURIComponent(join(dir, 'scenario.sh'))}&host=${host.id}`);
      return events.find((e: any) => e.process.pid === shell.pid)?.process.entity_id as string | undefined;
    }, 30_000, 'the root shell\'s process_start');

    const byRule = await eventually(async () => {
      const mine = (await alertsWith(vigil)).filter((a) => a.process_entity_id === root || a.ancestors?.some((x: any) => x.entity_id === root));
      const titles = new Map(mine.map((a) => [a.rule.title, a]));
      return steps.every((s) => titles.has(s.rule)) ? titles : undefined;
    }, 60_000, 'an alert for every step');
    for (const s of steps) {
      const a = byRule.get(s.rule)!;
      assert.ok(a.rule.author, `${s.rule} shows its author`);
      assert.ok(a.process?.entity_id === root || a.ancestors.some((x: any) => x.entity_id === root), `${s.rule} reaches the root shell`);
      if (s.file) assert.equal(a.events[0].file?.path, s.file, `${s.rule} carries the file path`);
    }

    const vigilPids = new Set([vigil.child.pid]);
    for (const a of await alertsWith(vigil)) {
      const lineage = [a.process, ...(a.ancestors ?? [])].filter(Boolean);
      assert.ok(!lineage.some((p: any) => vigilPids.has(p.pid) && /vigil/.test(p.command_line)), `alert about Vigil itself: ${a.rule.title} ${JSON.stringify(a.process)}`);
    }
  } finally {
    await vigil.stop('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
});
