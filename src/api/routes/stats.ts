// The dashboard overview: event rate (events_hourly, or per minute for the last hour), agents online and
// offline, sensor drops, and from the alert store (when present) alerts by severity per bucket over the range
// (the same buckets as the event rate: every bucket present, zeros included; informational alerts too), top rules
// and top hosts. Every time is ISO 8601 UTC (`Z`). Tenant-scoped.
// The MITRE ATT&CK view: alerts per technique and tactic over every alert of the statuses asked (default open and
// acknowledged), counted by the alert store, not over a page of alerts.

import type { FastifyInstance, FastifyReply } from 'fastify';
import mitreTable from '../../detect/mitre-table.json' with { type: 'json' };
import { technique } from '../../detect/mitre.ts';
import { ALERT_STATUSES, type AlertStatus, type LevelBucket } from '../../stores/alerts/types.ts';
import { problem } from '../http.ts';
import type { ApiOptions } from '../server.ts';
import { answers, ref } from '../schemas/index.ts';
import { isOnline } from './hosts.ts';

const RANGES = { '1h': { ms: 3_600_000, bucketSeconds: 60 }, '24h': { ms: 86_400_000, bucketSeconds: 3600 } } as const;
const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'] as const;
/** Enterprise ATT&CK tactics in kill-chain order (the order the view lists them in). */
const TACTIC_ORDER = ['TA0043', 'TA0042', 'TA0001', 'TA0002', 'TA0003', 'TA0004', 'TA0005', 'TA0006', 'TA0007', 'TA0008', 'TA0009', 'TA0011', 'TA0010', 'TA0040'];
const TACTIC_ID = new Map(Object.values(mitreTable.tactics as Record<string, { id: string; name: string }>).map((t) => [t.name, t.id]));
type SeverityRow = { t: string } & Record<(typeof SEVERITIES)[number], number>;

/** One row per bucket from the one holding `from` to the one holding `now`, with the counts of each severity. */
export function severitySeries(buckets: LevelBucket[], from: Date, now: Date, bucketSeconds: number): SeverityRow[] {
  const step = bucketSeconds * 1000;
  const rows = new Map<string, SeverityRow>();
  for (let t = Math.floor(from.getTime() / step) * step; t <= now.getTime(); t += step) {
    const iso = new Date(t).toISOString();
    rows.set(iso, { t: iso, informational: 0, low: 0, medium: 0, high: 0, critical: 0 });
  }
  for (const b of buckets) {
    const row = rows.get(b.t);
    if (row && (SEVERITIES as readonly string[]).includes(b.level)) row[b.level as (typeof SEVERITIES)[number]] += b.count;
  }
  return [...rows.values()];
}

export function statsRoutes(api: FastifyInstance, o: ApiOptions): void {
  api.get<{ Querystring: { range?: keyof typeof RANGES } }>('/stats/overview', {
    config: { access: 'hosts:read', etag: true },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { range: { type: 'string', enum: Object.keys(RANGES) } } },
      response: answers({ 200: ref('Overview') }) },
  }, async (req) => {
    const tenant = req.principal!.tenantId;
    const range = RANGES[req.query.range ?? '1h'];
    const now = new Date();
    const from = new Date(now.getTime() - range.ms);
    const [counts, hosts, alerts, levels] = await Promise.all([
      o.events.eventCounts(tenant, from, range.bucketSeconds),
      o.metadata.listHosts(tenant),
      o.alerts?.counts(tenant, from),
      o.alerts?.levelBuckets(tenant, from, range.bucketSeconds),
    ]);
    const online = hosts.filter((h) => isOnline(o, h)).length;
    const hostname = new Map(hosts.map((h) => [h.id, h.hostname]));
    return {
      range: req.query.range ?? '1h',
      events_per_s: counts.map((c) => ({ t: new Date(c.t).toISOString(), v: c.count / range.bucketSeconds })),
      alerts_by_severity: levels ? severitySeries(levels, from, now, range.bucketSeconds) : [],
      top_rules: alerts?.topRules ?? [],
      top_hosts: (o.risk ? (await o.risk.top(tenant, 'host', 10)).filter((h) => h.score > 0).map((h) => ({ id: h.id, risk: h.score, alerts: h.alerts })) : alerts?.topHosts ?? [])
        .map((h) => ({ id: h.id, hostname: hostname.get(h.id) ?? h.id, risk: h.risk, alerts: h.alerts })),
      agents: { online, offline: hosts.length - online },
      sensor_drops: hosts.reduce((sum, h) => sum + (h.health.sensorDrops ?? 0), 0),
    };
  });

  api.get<{ Querystring: { status?: string } }>('/stats/mitre', {
    config: { access: 'alerts:read', etag: true },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { status: { type: 'string', maxLength: 200 } } },
      response: answers({ 200: ref('MitreView') }) },
  }, async (req, reply) => {
    const statuses = parseStatuses(req.query.status, reply);
    if (!statuses) return reply;
    if (!o.alerts) return { statuses, alerts: 0, techniques: [], tactics: [] };
    const counts = await o.alerts.techniqueCounts(req.principal!.tenantId, statuses);
    const techniques = counts.techniques.map((c) => ({ ...technique(c.id), alerts: c.alerts }));
    const tactics = new Map<string, { id: string | null; name: string; techniques: { id: string; name: string; alerts: number }[] }>();
    for (const t of techniques) {
      for (const name of t.tactics.length ? t.tactics : ['(no tactic)']) {
        const row = tactics.get(name) ?? { id: TACTIC_ID.get(name) ?? null, name, techniques: [] };
        row.techniques.push({ id: t.id, name: t.name, alerts: t.alerts });
        tactics.set(name, row);
      }
    }
    const rank = (id: string | null) => (id && TACTIC_ORDER.includes(id) ? TACTIC_ORDER.indexOf(id) : TACTIC_ORDER.length);
    return {
      statuses, alerts: counts.alerts, techniques,
      tactics: [...tactics.values()].sort((a, b) => rank(a.id) - rank(b.id) || a.name.localeCompare(b.name)),
    };
  });
}

/** `open,acknowledged` → the statuses (default open and acknowledged; `all`: every status); a 400 for an unknown one. */
function parseStatuses(raw: string | undefined, reply: FastifyReply): AlertStatus[] | undefined {
  if (raw === undefined || raw.trim() === '') return ['open', 'acknowledged'];
  if (raw.trim() === 'all') return [...ALERT_STATUSES];
  const list = [...new Set(raw.split(',').map((x) => x.trim()).filter(Boolean))];
  const bad = list.filter((x) => !(ALERT_STATUSES as readonly string[]).includes(x));
  if (bad.length || list.length === 0) {
    problem(reply, 400, 'Bad Request', `status must be a comma-separated list of ${ALERT_STATUSES.join(', ')} (or all); got ${bad.join(', ') || 'nothing'}`, { code: 'invalid_request' });
    return undefined;
  }
  return list as AlertStatus[];
}
