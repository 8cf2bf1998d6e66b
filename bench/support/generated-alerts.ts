// Alerts made up for the investigation benchmarks: alert j is about process p = j·7919 mod `processes` (spread
// over every host and the whole span), one of 150 rules, at the process's time, with its process summary.

import type { Alert } from '../../src/detect/alerts.ts';

export interface AlertPopulation { tenant: string; hosts: number; processes: number; startMs: number; spanMs: number }

export const benchHostId = (h: number) => `agt-bench${String(h).padStart(4, '0')}`;

const LEVELS = ['low', 'medium', 'high', 'critical', 'informational'] as const;

/** Alerts `from` (inclusive) to `to` (exclusive) of the population; process p runs on host p mod hosts as `e<h>-<p div hosts>`. */
export function generatedAlerts(o: AlertPopulation, from: number, to: number): Alert[] {
  const out: Alert[] = [];
  for (let j = from; j < to; j++) {
    const p = Math.floor((j * 7919) % o.processes);
    const h = p % o.hosts;
    const entity = `e${h}-${Math.floor(p / o.hosts)}`;
    const at = new Date(o.startMs + Math.floor(p * (o.spanMs / o.processes))).toISOString();
    out.push({
      id: `bench-alert-${j}`, tenant_id: o.tenant, host_id: benchHostId(h), process_entity_id: entity, occurrences: 1,
      rule: { id: `bench-rule-${j % 150}`, title: `Bench rule ${j % 150}`, author: 'Vigil bench', level: LEVELS[j % LEVELS.length], references: [], type: 'single' },
      mitre: [], events: [], event_ids: [`bench-event-${j}`], first_seen: at, last_seen: at,
      process: { entity_id: entity, pid: 2, ppid: 1, parent_entity_id: '', executable: '/usr/bin/curl', command_line: `curl --job ${p}`,
        start: at, exit: null, user_name: 'alice', user_id: '1000' },
    });
  }
  return out;
}
