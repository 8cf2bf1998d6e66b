// AI-service usage (seed 001): which hosts and users use which generative-AI services, from the pipeline's findings
// (a process resolving a catalogued service's name, or connecting to it): per service the hosts, users and last use;
// every host, user, service and executable with its connections, resolutions and bytes; the tenant's policy
// (record only, or also alert), changed here (PUT /ai-usage/policy).

import { useMemo, useState } from 'react';
import { Anchor, Badge, Card, Group, SegmentedControl, SimpleGrid, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import type { ApiPaths } from '../api/generated.ts';
import { formatAgo, formatBytes, formatCount, formatTime } from '../components/format.ts';
import { ErrorState, QueryState } from '../components/query-state.tsx';

type Usage = ApiPaths['/ai-usage']['get']['answers']['200'];
type Row = Usage['usage'][number];
type Policy = Usage['policy'];

const RANGES = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;

interface ServiceSummary { service: string; name: string; hosts: Set<string>; users: Set<string>; connections: number; resolutions: number; lastSeen: string }

const plural = (n: number, what: string): string => `${formatCount(n)} ${what}${n === 1 ? '' : 's'}`;

function summarise(rows: Row[]): ServiceSummary[] {
  const by = new Map<string, ServiceSummary>();
  for (const r of rows) {
    const s = by.get(r.service) ?? { service: r.service, name: r.service_name, hosts: new Set(), users: new Set(), connections: 0, resolutions: 0, lastSeen: r.last_seen };
    s.hosts.add(r.hostname);
    if (r.user) s.users.add(r.user);
    s.connections += r.connections;
    s.resolutions += r.resolutions;
    if (r.last_seen > s.lastSeen) s.lastSeen = r.last_seen;
    by.set(r.service, s);
  }
  return [...by.values()].sort((a, b) => b.hosts.size - a.hosts.size || (a.lastSeen < b.lastSeen ? 1 : -1));
}

function PolicyControl({ policy }: { policy: Policy }) {
  const client = useQueryClient();
  const set = useMutation({
    mutationFn: (p: Policy) => api('/ai-usage/policy', { method: 'PUT', body: { policy: p } }),
    onSuccess: () => client.invalidateQueries({ queryKey: ['ai-usage'] }),
  });
  return (
    <Group gap="xs">
      <Text size="sm" c="dimmed">Policy</Text>
      <SegmentedControl size="xs" aria-label="AI-usage policy" value={policy} onChange={(v) => set.mutate(v as Policy)}
        data={[{ value: 'record', label: 'Record' }, { value: 'alert', label: 'Record and alert' }]} />
      {set.isError && <ErrorState error={set.error} what="Policy" />}
    </Group>
  );
}

export function AiUsagePage() {
  const [range, setRange] = useState<keyof typeof RANGES>('30d');
  const [filter, setFilter] = useState('');
  const since = useMemo(() => new Date(Date.now() - RANGES[range]).toISOString(), [range]);
  const usage = useQuery({ queryKey: ['ai-usage', range], queryFn: () => api<Usage>(`/ai-usage?since=${encodeURIComponent(since)}`), refetchInterval: 15_000 });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>AI-service usage</Title>
        <Group>
          {usage.data && <PolicyControl policy={usage.data.policy} />}
          <SegmentedControl size="xs" aria-label="Range" value={range} onChange={(v) => setRange(v as keyof typeof RANGES)} data={Object.keys(RANGES)} />
        </Group>
      </Group>
      <Text size="sm" c="dimmed">
        A process that resolves a generative-AI service's name or connects to it is recorded here (the catalogue's domains and published address ranges);
        with the alert policy each such process also raises an alert.
      </Text>
      <QueryState query={usage} what="AI-service usage" isEmpty={(d) => d.usage.length === 0} empty="No generative-AI service used in this range.">
        {(d) => {
          const needle = filter.toLowerCase();
          const rows = d.usage.filter((r) => !needle || [r.hostname, r.user, r.service_name, r.executable].some((v) => v.toLowerCase().includes(needle)));
          return (
            <Stack>
              <SimpleGrid cols={{ base: 1, sm: 2, lg: 4 }}>
                {summarise(d.usage).map((s) => (
                  <Card key={s.service} withBorder data-service={s.service}>
                    <Text fw={600}>{s.name}</Text>
                    <Text size="sm">{s.hosts.size} {s.hosts.size === 1 ? 'host' : 'hosts'} · {s.users.size} {s.users.size === 1 ? 'user' : 'users'}</Text>
                    <Text size="xs" c="dimmed">{plural(s.connections, 'connection')} · {plural(s.resolutions, 'lookup')} · last {formatAgo(s.lastSeen)}</Text>
                  </Card>
                ))}
              </SimpleGrid>
              <TextInput placeholder="Filter by host, user, service or executable" aria-label="Filter usage" w={360} value={filter} onChange={(e) => setFilter(e.currentTarget.value)} />
              <Table fz="sm" aria-label="AI-service usage" verticalSpacing="xs">
                <Table.Thead><Table.Tr>
                  <Table.Th>Host</Table.Th><Table.Th>User</Table.Th><Table.Th>Service</Table.Th><Table.Th>Executable</Table.Th>
                  <Table.Th ta="right">Connections</Table.Th><Table.Th ta="right">Lookups</Table.Th><Table.Th ta="right">Bytes</Table.Th><Table.Th>Last seen</Table.Th>
                </Table.Tr></Table.Thead>
                <Table.Tbody>{rows.map((r) => (
                  <Table.Tr key={`${r.host_id}/${r.user}/${r.service}/${r.executable}`}>
                    <Table.Td><Anchor component={Link} size="sm" to={`/hosts/${encodeURIComponent(r.host_id)}`}>{r.hostname}</Anchor></Table.Td>
                    <Table.Td>{r.user || <Text span c="dimmed" size="sm">unknown</Text>}</Table.Td>
                    <Table.Td><Badge variant="light">{r.service_name}</Badge></Table.Td>
                    <Table.Td><Text size="sm" ff="monospace">{r.executable || '—'}</Text></Table.Td>
                    <Table.Td ta="right">{formatCount(r.connections)}</Table.Td>
                    <Table.Td ta="right">{formatCount(r.resolutions)}</Table.Td>
                    <Table.Td ta="right">{r.bytes ? formatBytes(r.bytes) : '—'}</Table.Td>
                    <Table.Td title={formatTime(r.last_seen)}>{formatAgo(r.last_seen)}</Table.Td>
                  </Table.Tr>
                ))}</Table.Tbody>
              </Table>
            </Stack>
          );
        }}
      </QueryState>
    </Stack>
  );
}
