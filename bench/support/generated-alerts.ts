// Alerts made up for the investigation benchmarks: alert j is about process p = j·7919 mod `processes` (spread
// over every host and the whole span), one of 150 rules, at the process's time, with its process summary (run by
// one of 50 users) and one kept event (a file the process wrote, its image's SHA-256: one of 1,000).

import type { Alert } from '../../src/detect/alerts.ts';

export interface AlertPopulation { tenant: string; hosts: number; processes: number; startMs: number; spanMs: number }

export const benchHostId = (h: number) => `agt-bench${String(h).padStart(4, '0')}`;

const MASK = (1n << 64n) - 1n;
/** The multiplier of the entity ids' 64-bit mixes (bench/support/generated-events.ts makes the same ids in SQL). */
export const ENTITY_MIX = 11400714819323198485n;

/** 16 hex characters of a 64-bit mix of x and salt. */
function mixHex(x: bigint, salt: bigint): string {
  let v = (x * ENTITY_MIX + salt) & MASK;
  v ^= v >> 29n;
  return v.toString(16).padStart(16, '0');
}

/** The entity id of process i of host h: 128 bits as 32 hex characters (as random-looking as the agent's ids). */
export function benchEntityId(h: number, i: number): string {
  const x = (BigInt(h) << 40n) + BigInt(i);
  return mixHex(x, 7n) + mixHex(x, 13n);
}

/** The user of alert j's process and event (one of 50). */
export const benchUser = (j: number) => `user${j % 50}`;
/** The SHA-256 of alert j's image (one of 1,000). */
export const benchHash = (j: number) => (j % 1000).toString(16).padStart(64, '0');

const LEVELS = ['low', 'medium', 'high', 'critical', 'informational'] as const;

/** Alerts `from` (inclusive) to `to` (exclusive) of the population; process p runs on host p mod hosts as process p div hosts of it. */
export function generatedAlerts(o: AlertPopulation, from: number, to: number): Alert[] {
  const out: Alert[] = [];
  for (let j = from; j < to; j++) {
    const p = Math.floor((j * 7919) % o.processes);
    const h = p % o.hosts;
    const entity = benchEntityId(h, Math.floor(p / o.hosts));
    const at = new Date(o.startMs + Math.floor(p * (o.spanMs / o.processes))).toISOString();
    const user = benchUser(j);
    out.push({
      id: `bench-alert-${j}`, tenant_id: o.tenant, host_id: benchHostId(h), process_entity_id: entity, occurrences: 1,
      rule: { id: `bench-rule-${j % 150}`, title: `Bench rule ${j % 150}`, author: 'Vigil bench', level: LEVELS[j % LEVELS.length], references: [], type: 'single' },
      mitre: [], event_ids: [`bench-event-${j}`], first_seen: at, last_seen: at,
      events: [{ '@timestamp': at, event: { id: `bench-event-${j}`, type: 'file_write' }, user: { name: user }, file: { path: `/var/tmp/job-${p}/out-1` },
        process: { entity_id: entity, hash: { sha256: benchHash(j) } } }],
      process: { entity_id: entity, pid: 2, ppid: 1, parent_entity_id: '', executable: '/usr/bin/curl', command_line: `curl --job ${p}`,
        start: at, exit: null, user_name: user, user_id: String(1000 + (j % 50)) },
    });
  }
  return out;
}
