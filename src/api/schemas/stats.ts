// Response schemas of the dashboard overview and the MITRE ATT&CK view (src/api/routes/stats.ts).

import { ALERT_STATUSES, SEVERITY_ORDER } from '../../stores/alerts/types.ts';
import { arrayOf, enumOf, INTEGER, named, nullable, NUMBER, object, STRING, TIME } from './common.ts';

export const Overview = named('Overview', 'The dashboard: event rate, alerts by severity per bucket, top rules and hosts, agents, sensor drops.', object({
  range: enumOf(['1h', '24h']),
  events_per_s: arrayOf(object({ t: TIME, v: NUMBER })),
  alerts_by_severity: arrayOf(object({ t: TIME, ...Object.fromEntries(SEVERITY_ORDER.map((s) => [s, INTEGER])) })),
  top_rules: arrayOf(object({ id: STRING, title: STRING, count: INTEGER })),
  top_hosts: arrayOf(object({ id: STRING, hostname: STRING, risk: NUMBER, alerts: INTEGER })),
  agents: object({ online: INTEGER, offline: INTEGER }),
  sensor_drops: INTEGER,
}));

export const MitreView = named('MitreView', 'Alerts per MITRE ATT&CK technique and tactic over every alert of the statuses asked.', object({
  statuses: arrayOf(enumOf(ALERT_STATUSES)), alerts: INTEGER,
  techniques: arrayOf(object({ id: STRING, name: STRING, tactics: arrayOf(STRING), alerts: INTEGER })),
  tactics: arrayOf(object({ id: nullable(STRING), name: STRING, techniques: arrayOf(object({ id: STRING, name: STRING, alerts: INTEGER })) })),
}));

export const STATS_SCHEMAS = [Overview, MitreView];
