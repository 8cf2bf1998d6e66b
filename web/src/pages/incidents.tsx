// Incidents: the alerts that belong together, newest activity first, with filters (status, severity,
// assignee, host; kept in the URL), the exact number matching and cursor paging. GET /incidents.

import { useEffect, useState } from 'react';
import { Anchor, Button, Group, Select, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { Link, useSearchParams } from 'react-router';
import { api } from '../api/client.ts';
import { queryString, useHosts } from '../api/queries.ts';
import type { Incident } from '../api/types.ts';
import { getCredential } from '../auth/credential.ts';
import { AlertStatusBadge, SeverityBadge } from '../components/badges.tsx';
import { formatTime } from '../components/format.ts';
import { hostLabel, useHostNames, userLabel, useUserNames } from '../components/names.tsx';
import { QueryState } from '../components/query-state.tsx';

const FILTERS = ['status', 'severity', 'assignee', 'host'] as const;
const PAGE = 50;

export function IncidentsPage() {
  const [params, setParams] = useSearchParams();
  const filter = Object.fromEntries(FILTERS.flatMap((k) => (params.get(k) ? [[k, params.get(k)!]] : [])));
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const key = JSON.stringify(filter);
  useEffect(() => setCursors([null]), [key]);
  const cursor = cursors[cursors.length - 1];
  const list = useQuery({
    queryKey: ['incidents', 'list', filter, cursor], refetchInterval: 10_000,
    queryFn: () => api<{ incidents: Incident[]; next: string | null; total: number }>(`/incidents${queryString({ ...filter, limit: PAGE, cursor })}`),
  });
  const hosts = useHosts();
  const hostNames = useHostNames();
  const users = useUserNames();
  const cred = getCredential();
  const me = cred?.kind === 'session' ? cred.user.id : null;
  const set = (k: string, v: string | null) => { const p = new URLSearchParams(params); if (v) p.set(k, v); else p.delete(k); setParams(p); };
  return (
    <Stack>
      <Title order={2}>Incidents</Title>
      <Group align="flex-end">
        <Select label="Status" clearable w={150} value={filter.status ?? null} onChange={(v) => set('status', v)}
          data={[{ value: 'open,investigating', label: 'not closed' }, 'open', 'investigating', 'closed']} />
        <Select label="Severity" clearable w={140} value={filter.severity ?? null} onChange={(v) => set('severity', v)} data={['low', 'medium', 'high', 'critical']} />
        <Select label="Assignee" clearable w={220} value={filter.assignee ?? null} onChange={(v) => set('assignee', v)}
          data={[...(me ? [{ value: me, label: 'me' }] : []), { value: 'none', label: 'unassigned' },
            ...[...users.entries()].filter(([k]) => !k.includes(':') && k !== me).map(([value, label]) => ({ value, label }))]} />
        <Select label="Host" clearable searchable w={200} value={filter.host ?? null} onChange={(v) => set('host', v)}
          data={(hosts.data?.hosts ?? []).map((h) => ({ value: h.id, label: h.hostname }))} />
      </Group>
      <QueryState query={list} what="Incidents" isEmpty={(d) => d.incidents.length === 0 && cursors.length === 1} empty="No incident matches these filters.">
        {(d) => (
          <Stack gap="xs">
            <Group justify="space-between">
              <Text size="sm" data-testid="incident-total">{d.total.toLocaleString()} incident{d.total === 1 ? '' : 's'}</Text>
              <Group gap="xs">
                <Button size="xs" variant="default" disabled={cursors.length === 1} onClick={() => setCursors((s) => s.slice(0, -1))}>Previous page</Button>
                <Text size="sm">page {cursors.length}</Text>
                <Button size="xs" variant="default" disabled={!d.next} onClick={() => d.next && setCursors((s) => [...s, d.next])}>Next page</Button>
              </Group>
            </Group>
            <Table aria-label="Incidents" striped verticalSpacing="xs" fz="sm">
              <Table.Thead><Table.Tr>{['Last activity', 'Severity', 'Incident', 'Alerts', 'Hosts', 'Status', 'Assignee'].map((h) => <Table.Th key={h}>{h}</Table.Th>)}</Table.Tr></Table.Thead>
              <Table.Tbody>{d.incidents.map((i) => (
                <Table.Tr key={i.id}>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(i.last_seen)}</Table.Td>
                  <Table.Td><SeverityBadge level={i.severity} /></Table.Td>
                  <Table.Td><Anchor component={Link} to={`/incidents/${i.id}`}>{i.title}</Anchor></Table.Td>
                  <Table.Td ta="right">{i.alert_count}</Table.Td>
                  <Table.Td>{i.host_ids.map((h) => hostLabel(hostNames, h)).join(', ') || '—'}</Table.Td>
                  <Table.Td style={{ whiteSpace: 'nowrap' }}><AlertStatusBadge status={i.status} />{i.disposition && <Text size="xs" c="dimmed">{i.disposition.replace(/_/g, ' ')}</Text>}</Table.Td>
                  <Table.Td>{i.assignee ? userLabel(users, i.assignee) : <Text size="sm" c="dimmed">unassigned</Text>}</Table.Td>
                </Table.Tr>
              ))}</Table.Tbody>
            </Table>
          </Stack>
        )}
      </QueryState>
    </Stack>
  );
}
