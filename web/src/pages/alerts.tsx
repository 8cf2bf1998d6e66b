// Alerts: filter by severity, status, host, rule and time (kept in the URL), and triage each alert in place.

import { Anchor, Group, Select, Stack, TextInput, Title } from '@mantine/core';
import { Link, useSearchParams } from 'react-router';
import { useAlerts, type AlertFilter } from '../api/queries.ts';
import type { Alert } from '../api/types.ts';
import { AlertTriage } from '../components/alert-triage.tsx';
import { AlertStatusBadge, LEVEL_ORDER, SeverityBadge } from '../components/badges.tsx';
import { formatTime, localInputValue } from '../components/format.ts';
import { HostLink } from '../components/names.tsx';
import { QueryState } from '../components/query-state.tsx';
import { SortableTable, type Column } from '../components/sortable-table.tsx';

const FILTERS = ['severity', 'status', 'host', 'rule', 'from', 'to'] as const;

const COLUMNS: Column<Alert>[] = [
  { key: 'last', label: 'Last seen', render: (a) => formatTime(a.last_seen), sortValue: (a) => a.last_seen },
  { key: 'severity', label: 'Severity', render: (a) => <SeverityBadge level={a.rule.level} />, sortValue: (a) => LEVEL_ORDER[a.rule.level] ?? 0 },
  { key: 'rule', label: 'Rule', render: (a) => <Anchor component={Link} to={`/alerts/${a.id}`}>{a.rule.title}</Anchor>, sortValue: (a) => a.rule.title, wrap: true },
  { key: 'host', label: 'Host', render: (a) => <HostLink id={a.host_id} />, sortValue: (a) => a.host_id },
  { key: 'status', label: 'Status', render: (a) => <AlertStatusBadge status={a.status} />, sortValue: (a) => a.status },
  { key: 'assignee', label: 'Assignee', render: (a) => a.assignee ?? '—', sortValue: (a) => a.assignee ?? '' },
  { key: 'triage', label: 'Triage', render: (a) => <AlertTriage alert={a} /> },
];

export function AlertsPage() {
  const [params, setParams] = useSearchParams();
  const filter: AlertFilter = Object.fromEntries(FILTERS.flatMap((k) => (params.get(k) ? [[k, params.get(k)!]] : [])));
  const alerts = useAlerts({ ...filter, limit: 200 });
  const set = (k: string, v: string | null) => { const p = new URLSearchParams(params); if (v) p.set(k, v); else p.delete(k); setParams(p); };
  const time = (k: 'from' | 'to', label: string) => (
    <TextInput type="datetime-local" label={label} w={210} value={params.get(k) ? localInputValue(new Date(params.get(k)!)) : ''} onChange={(e) => set(k, e.currentTarget.value ? new Date(e.currentTarget.value).toISOString() : null)} />
  );
  return (
    <Stack>
      <Title order={2}>Alerts</Title>
      <Group align="flex-end">
        <Select label="Severity" clearable w={140} value={filter.severity ?? null} onChange={(v) => set('severity', v)} data={['low', 'medium', 'high', 'critical']} />
        <Select label="Status" clearable w={150} value={filter.status ?? null} onChange={(v) => set('status', v)} data={['open', 'acknowledged', 'closed', 'suppressed']} />
        <TextInput label="Host id" w={180} value={filter.host ?? ''} onChange={(e) => set('host', e.currentTarget.value)} />
        <TextInput label="Rule id" w={180} value={filter.rule ?? ''} onChange={(e) => set('rule', e.currentTarget.value)} />
        {time('from', 'From')}{time('to', 'To')}
      </Group>
      <QueryState query={alerts} what="Alerts" isEmpty={(d) => d.alerts.length === 0} empty="No alert matches these filters.">
        {(d) => <SortableTable label="Alerts" rows={d.alerts} columns={COLUMNS} rowKey={(a) => a.id} initialSort={{ key: 'last', desc: true }} />}
      </QueryState>
    </Stack>
  );
}
