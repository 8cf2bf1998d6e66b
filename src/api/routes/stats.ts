// The dashboard overview: event rate (events_hourly, or per minute for the last hour), agents online and
// offline, sensor drops, and from the alert store (when present) alerts by severity over the range (one
// bucket: the store gives totals), top rules and top hosts. Tenant-scoped.

import type { FastifyInstance } from 'fastify';
import type { ApiOptions } from '../server.ts';
import { isOnline } from './hosts.ts';

const RANGES = { '1h': { ms: 3_600_000, bucketSeconds: 60 }, '24h': { ms: 86_400_000, bucketSeconds: 3600 } } as const;

export function statsRoutes(api: FastifyInstance, o: ApiOptions): void {
  api.get<{ Querystring: { range?: keyof typeof RANGES } }>('/stats/overview', {
    config: { access: 'hosts:read', etag: true },
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { range: { type: 'string', enum: Object.keys(RANGES) } } } },
  }, async (req) => {
    const tenant = req.principal!.tenantId;
    const range = RANGES[req.query.range ?? '1h'];
    const from = new Date(Date.now() - range.ms);
    const [counts, hosts, alerts] = await Promise.all([
      o.events.eventCounts(tenant, from, range.bucketSeconds),
      o.metadata.listHosts(tenant),
      o.alerts?.counts(tenant, from),
    ]);
    const online = hosts.filter((h) => isOnline(o, h)).length;
    const hostname = new Map(hosts.map((h) => [h.id, h.hostname]));
    const severity = (s: string) => alerts?.bySeverity[s] ?? 0;
    return {
      range: req.query.range ?? '1h',
      events_per_s: counts.map((c) => ({ t: c.t, v: c.count / range.bucketSeconds })),
      alerts_by_severity: alerts ? [{ t: from.toISOString(), low: severity('low'), medium: severity('medium'), high: severity('high'), critical: severity('critical') }] : [],
      top_rules: alerts?.topRules ?? [],
      top_hosts: (alerts?.topHosts ?? []).map((h) => ({ id: h.id, hostname: hostname.get(h.id) ?? h.id, risk: h.risk, alerts: h.alerts })),
      agents: { online, offline: hosts.length - online },
      sensor_drops: hosts.reduce((sum, h) => sum + (h.health.sensorDrops ?? 0), 0),
    };
  });
}
