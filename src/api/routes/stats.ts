// The dashboard overview: event rate (events_hourly, or per minute for the last hour), agents online and
// offline, sensor drops, and from the alert store (when present) alerts by severity per bucket over the range
// (the same buckets as the event rate: every bucket present, zeros included), top rules and top hosts. Every
// time is ISO 8601 UTC (`Z`). Tenant-scoped.

import type { FastifyInstance } from 'fastify';
import type { LevelBucket } from '../../stores/alerts/types.ts';
import type { ApiOptions } from '../server.ts';
import { isOnline } from './hosts.ts';

const RANGES = { '1h': { ms: 3_600_000, bucketSeconds: 60 }, '24h': { ms: 86_400_000, bucketSeconds: 3600 } } as const;
const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
type SeverityRow = { t: string } & Record<(typeof SEVERITIES)[number], number>;

/** One row per bucket from the one holding `from` to the one holding `now`, with the counts of each severity. */
export function severitySeries(buckets: LevelBucket[], from: Date, now: Date, bucketSeconds: number): SeverityRow[] {
  const step = bucketSeconds * 1000;
  const rows = new Map<string, SeverityRow>();
  for (let t = Math.floor(from.getTime() / step) * step; t <= now.getTime(); t += step) {
    const iso = new Date(t).toISOString();
    rows.set(iso, { t: iso, low: 0, medium: 0, high: 0, critical: 0 });
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
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { range: { type: 'string', enum: Object.keys(RANGES) } } } },
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
      top_hosts: (alerts?.topHosts ?? []).map((h) => ({ id: h.id, hostname: hostname.get(h.id) ?? h.id, risk: h.risk, alerts: h.alerts })),
      agents: { online, offline: hosts.length - online },
      sensor_drops: hosts.reduce((sum, h) => sum + (h.health.sensorDrops ?? 0), 0),
    };
  });
}
