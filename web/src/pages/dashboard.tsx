// Dashboard: agents online/offline and sensor drops (from the host list), events per second and alerts by
// severity over time, top rules and top hosts by risk (from /stats/overview); refreshes live.

import { useState, type ReactElement } from 'react';
import { Anchor, Card, Group, SegmentedControl, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { Area, AreaChart, Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { Link } from 'react-router';
import { useHosts, useOverview } from '../api/queries.ts';
import type { Overview } from '../api/types.ts';
import { SEVERITY_COLOURS } from '../components/badges.tsx';
import { QueryState } from '../components/query-state.tsx';

/** Stacked bottom up, least severe first; informational alerts count too (older servers leave it out: 0). */
const SEVERITIES = ['informational', 'low', 'medium', 'high', 'critical'] as const;

const clock = (t: string) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });

function Stat({ label, value, colour }: { label: string; value: number | string; colour?: string }) {
  return <Card withBorder><Text size="sm" c="dimmed">{label}</Text><Text fz={28} fw={700} c={colour} data-stat={label}>{value}</Text></Card>;
}

function AgentStats() {
  const hosts = useHosts();
  const list = hosts.data?.hosts ?? [];
  const online = list.filter((h) => h.status === 'online').length;
  const drops = list.reduce((n, h) => n + (h.health.sensorDrops ?? 0) + (h.health.agentDrops ?? 0), 0);
  const v = (n: number) => (hosts.isPending ? '…' : hosts.isError ? '—' : n);
  return (
    <SimpleGrid cols={{ base: 1, sm: 3 }}>
      <Stat label="Agents online" value={v(online)} colour="green" />
      <Stat label="Agents offline" value={v(list.length - online)} colour={list.length - online ? 'orange' : undefined} />
      <Stat label="Dropped events" value={v(drops)} colour={drops ? 'red' : undefined} />
    </SimpleGrid>
  );
}

function ChartCard({ title, children }: { title: string; children: ReactElement }) {
  return <Card withBorder><Title order={5} mb="sm">{title}</Title><ResponsiveContainer width="100%" height={220}>{children}</ResponsiveContainer></Card>;
}

function Charts({ o }: { o: Overview }) {
  return (
    <SimpleGrid cols={{ base: 1, lg: 2 }}>
      <ChartCard title="Events per second">
        <AreaChart data={o.events_per_s}><CartesianGrid strokeDasharray="3 3" /><XAxis dataKey="t" tickFormatter={clock} /><YAxis />
          <Tooltip labelFormatter={(t) => clock(String(t))} /><Area dataKey="v" name="events/s" type="monotone" /></AreaChart>
      </ChartCard>
      <ChartCard title="Alerts by severity">
        <BarChart data={o.alerts_by_severity}><CartesianGrid strokeDasharray="3 3" /><XAxis dataKey="t" tickFormatter={clock} /><YAxis allowDecimals={false} />
          <Tooltip labelFormatter={(t) => clock(String(t))} /><Legend itemSorter={(item) => SEVERITIES.indexOf(String(item.value) as (typeof SEVERITIES)[number])} />
          {SEVERITIES.map((s) => <Bar key={s} dataKey={(row: Overview['alerts_by_severity'][number]) => row[s] ?? 0} name={s} stackId="a" fill={`var(--mantine-color-${SEVERITY_COLOURS[s]}-6)`} />)}
        </BarChart>
      </ChartCard>
      <Card withBorder>
        <Title order={5} mb="sm">Top rules</Title>
        {o.top_rules.length === 0 ? <Text c="dimmed" size="sm">No alerts in this range.</Text> : (
          <Table fz="sm"><Table.Tbody>{o.top_rules.map((r) => (
            <Table.Tr key={r.id}><Table.Td><Anchor component={Link} to={`/alerts?rule=${encodeURIComponent(r.id)}`}>{r.title}</Anchor></Table.Td><Table.Td ta="right">{r.count}</Table.Td></Table.Tr>
          ))}</Table.Tbody></Table>
        )}
      </Card>
      <Card withBorder>
        <Title order={5} mb="sm">Top hosts by risk</Title>
        {o.top_hosts.length === 0 ? <Text c="dimmed" size="sm">No host at risk in this range.</Text> : (
          <Table fz="sm"><Table.Thead><Table.Tr><Table.Th>Host</Table.Th><Table.Th ta="right">Risk</Table.Th><Table.Th ta="right">Alerts</Table.Th></Table.Tr></Table.Thead>
            <Table.Tbody>{o.top_hosts.map((h) => (
              <Table.Tr key={h.id}><Table.Td><Anchor component={Link} to={`/hosts/${h.id}`}>{h.hostname}</Anchor></Table.Td><Table.Td ta="right">{h.risk}</Table.Td><Table.Td ta="right">{h.alerts}</Table.Td></Table.Tr>
            ))}</Table.Tbody></Table>
        )}
      </Card>
    </SimpleGrid>
  );
}

export function DashboardPage() {
  const [range, setRange] = useState<'1h' | '24h'>('1h');
  const overview = useOverview(range);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Dashboard</Title>
        <SegmentedControl aria-label="Time range" value={range} onChange={(v) => setRange(v as '1h' | '24h')} data={['1h', '24h']} />
      </Group>
      <AgentStats />
      <QueryState query={overview} what="Statistics">{(o) => <Charts o={o} />}</QueryState>
    </Stack>
  );
}
