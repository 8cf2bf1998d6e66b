// Hosts: every enrolled host, searchable by name, OS, id or version and sortable by any column; risk comes
// from the dashboard statistics when the server offers them.

import { useMemo, useState } from 'react';
import { Group, Stack, TextInput, Title } from '@mantine/core';
import { useNavigate } from 'react-router';
import { useHosts, useOverview } from '../api/queries.ts';
import type { Host } from '../api/types.ts';
import { HostStatusBadge } from '../components/badges.tsx';
import { formatAgo, formatCount } from '../components/format.ts';
import { QueryState } from '../components/query-state.tsx';
import { SortableTable, type Column } from '../components/sortable-table.tsx';

function hostColumns(risk: Map<string, number>): Column<Host>[] {
  const drops = (h: Host) => (h.health.sensorDrops ?? 0) + (h.health.agentDrops ?? 0);
  return [
    { key: 'hostname', label: 'Host', render: (h) => h.hostname, sortValue: (h) => h.hostname },
    { key: 'status', label: 'Status', render: (h) => <HostStatusBadge status={h.status} />, sortValue: (h) => h.status },
    { key: 'os', label: 'OS', render: (h) => `${h.os} ${h.kernel}`, sortValue: (h) => h.os },
    { key: 'agent', label: 'Agent', render: (h) => h.agent_version, sortValue: (h) => h.agent_version },
    { key: 'sensor', label: 'Sensor', render: (h) => h.sensor_mode ?? '—', sortValue: (h) => h.sensor_mode ?? '' },
    { key: 'seen', label: 'Last seen', render: (h) => formatAgo(h.last_seen), sortValue: (h) => h.last_seen ?? '' },
    { key: 'risk', label: 'Risk', render: (h) => risk.get(h.id) ?? '—', sortValue: (h) => risk.get(h.id) ?? -1 },
    { key: 'drops', label: 'Drops', render: (h) => formatCount(drops(h)), sortValue: drops },
  ];
}

function matches(h: Host, needle: string): boolean {
  return [h.hostname, h.id, h.os, h.kernel, h.agent_version, h.sensor_mode ?? ''].some((v) => v.toLowerCase().includes(needle));
}

export function HostsPage() {
  const hosts = useHosts();
  const overview = useOverview('24h');
  const [search, setSearch] = useState('');
  const navigate = useNavigate();
  const risk = useMemo(() => new Map((overview.data?.top_hosts ?? []).map((h) => [h.id, h.risk])), [overview.data]);
  const columns = useMemo(() => hostColumns(risk), [risk]);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Hosts</Title>
        <TextInput placeholder="Search hosts" aria-label="Search hosts" value={search} onChange={(e) => setSearch(e.currentTarget.value)} w={280} />
      </Group>
      <QueryState query={hosts} what="Hosts" isEmpty={(d) => d.hosts.length === 0} empty="No host is enrolled yet. Create an enrolment token in Settings.">
        {(d) => (
          <SortableTable label="Hosts" rows={d.hosts.filter((h) => matches(h, search.toLowerCase()))} columns={columns}
            rowKey={(h) => h.id} onOpen={(h) => navigate(`/hosts/${h.id}`)} initialSort={{ key: 'hostname', desc: false }} />
        )}
      </QueryState>
    </Stack>
  );
}
