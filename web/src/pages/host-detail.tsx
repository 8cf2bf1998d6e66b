// Host detail: inventory and health, the process tree (live or at a chosen time), the timeline (filtered by
// type, process, text and time; every value a pivot), and response actions. The open tab is in the URL
// (?tab=) so links and reloads keep it.

import { useMemo, useState, type ReactNode } from 'react';
import { Anchor, Button, Card, Group, SimpleGrid, Stack, Table, Tabs, Text, TextInput, Title } from '@mantine/core';
import { Link, useParams, useSearchParams } from 'react-router';
import { useAlerts, useHost, useProcessTree } from '../api/queries.ts';
import type { Host } from '../api/types.ts';
import { HostStatusBadge } from '../components/badges.tsx';
import { HostTimeline } from '../components/host-timeline.tsx';
import { formatAgo, formatBytes, formatCount, formatTime, localInputValue } from '../components/format.ts';
import { QueryState } from '../components/query-state.tsx';
import { ResponseActions } from '../components/response-actions.tsx';
import { ProcessDetails } from '../tree/process-details.tsx';
import { ProcessTreeView } from '../tree/process-tree-view.tsx';
import { indexTree } from '../tree/visible-rows.ts';

function Facts({ title, facts }: { title: string; facts: [string, ReactNode][] }) {
  return (
    <Card withBorder>
      <Title order={5} mb="xs">{title}</Title>
      <Table fz="sm" withRowBorders={false}><Table.Tbody>
        {facts.map(([k, v]) => <Table.Tr key={k}><Table.Td c="dimmed" w={160}>{k}</Table.Td><Table.Td>{v}</Table.Td></Table.Tr>)}
      </Table.Tbody></Table>
    </Card>
  );
}

function Overview({ host }: { host: Host }) {
  const h = host.health;
  return (
    <SimpleGrid cols={{ base: 1, md: 2 }}>
      <Facts title="Inventory" facts={[
        ['Host id', host.id], ['OS', host.os], ['Kernel', host.kernel], ['Agent version', host.agent_version],
        ['Enrolled', formatTime(host.enrolled_at)], ['Last seen', `${formatAgo(host.last_seen)} (${formatTime(host.last_seen)})`],
        ['Certificate', `${host.certificate.serial} until ${formatTime(host.certificate.not_after)}${host.certificate.revoked ? ' (revoked)' : ''}`],
      ]} />
      <Facts title="Health" facts={[
        ['Sensor', `${h.sensorMode ?? '—'}${h.sensorDetail ? ` — ${h.sensorDetail}` : ''}`], ['Sensor restarts', formatCount(h.sensorRestarts)],
        ['Sensor drops', formatCount(h.sensorDrops)], ['Agent drops', formatCount(h.agentDrops)], ['Queue depth', formatCount(h.queueDepth)],
        ['Spool', formatBytes(h.spoolBytes)], ['Memory (RSS)', formatBytes(h.rssBytes)], ['CPU', h.cpuPct === undefined ? '—' : `${h.cpuPct.toFixed(1)} %`],
        ['Events sent', formatCount(h.eventsSent)],
      ]} />
    </SimpleGrid>
  );
}

/** GET /hosts/{id}'s risk (seed 002 §11; src/risk/score.ts). */
interface RiskBreakdown {
  score: number; base_score: number; weighted_alerts: number; max_alerts_per_subject: number; alerts: number;
  by_severity: Record<string, number>; mitre_mult: number; techniques_24h: string[]; recency_decay: number; last_alert: string | null;
}

function RiskCard({ risk }: { risk: RiskBreakdown | null }) {
  if (!risk) return null;
  const counts = ['critical', 'high', 'medium', 'low'].map((l) => `${risk.by_severity[l] ?? 0} ${l}`).join(', ');
  return (
    <Card withBorder data-testid="risk">
      <Group justify="space-between" mb="xs"><Title order={5}>Risk</Title><Text fw={700} size="xl" data-testid="risk-score">{risk.score}</Text></Group>
      {risk.alerts === 0 ? <Text size="sm" c="dimmed">No open or acknowledged alert on this host.</Text> : (
        <Table fz="sm" withRowBorders={false}><Table.Tbody>
          <Table.Tr><Table.Td c="dimmed" w={160}>Base</Table.Td><Table.Td>{risk.base_score} = weighted alerts {risk.weighted_alerts} ({counts}) ÷ {risk.max_alerts_per_subject} (most alerts on one host)</Table.Td></Table.Tr>
          <Table.Tr><Table.Td c="dimmed">MITRE</Table.Td><Table.Td>× {risk.mitre_mult} ({risk.techniques_24h.length} techniques in 24 h{risk.techniques_24h.length ? `: ${risk.techniques_24h.join(', ')}` : ''})</Table.Td></Table.Tr>
          <Table.Tr><Table.Td c="dimmed">Recency</Table.Td><Table.Td>× {risk.recency_decay} (last alert {formatAgo(risk.last_alert)})</Table.Td></Table.Tr>
        </Table.Tbody></Table>
      )}
      <Text size="xs" c="dimmed" mt="xs">Severity weights critical 10, high 5, medium 2, low 1 over the open and acknowledged alerts; recency 1.0 within 1 h, 0.8 within 24 h, else 0.5.</Text>
    </Card>
  );
}

function TreeTab({ hostId }: { hostId: string }) {
  const [at, setAt] = useState<string | null>(null);
  const [search, setSearch] = useState('');
  const [selected, setSelected] = useState<string | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const tree = useProcessTree(hostId, at);
  const alerts = useAlerts({ host: hostId, limit: 500 });
  const alerted = useMemo(() => new Set((alerts.data?.alerts ?? []).flatMap((a) => (a.process_entity_id ? [a.process_entity_id] : []))), [alerts.data]);
  const byId = useMemo(() => indexTree(tree.data?.roots ?? []), [tree.data]);
  return (
    <Stack gap="sm">
      <Group>
        <TextInput placeholder="Search pid, executable, command line, user" aria-label="Search processes" w={360} value={search} onChange={(e) => setSearch(e.currentTarget.value)} />
        <TextInput type="datetime-local" aria-label="Tree at time" value={at ? localInputValue(new Date(at)) : ''}
          onChange={(e) => setAt(e.currentTarget.value ? new Date(e.currentTarget.value).toISOString() : null)} />
        <Button variant={at ? 'default' : 'filled'} onClick={() => setAt(null)}>Live</Button>
        <Button variant="subtle" onClick={() => void tree.refetch()}>Refresh</Button>
        {tree.data && <Text size="sm" c="dimmed" data-testid="tree-summary">{tree.data.count.toLocaleString()} processes {tree.data.live ? '(live)' : `at ${formatTime(tree.data.at)}`}</Text>}
      </Group>
      <QueryState query={tree} what="Process tree" isEmpty={(d) => d.roots.length === 0} empty="No processes recorded for this host at that time.">
        {(d) => <ProcessTreeView roots={d.roots} search={search} alerted={alerted} selected={selected} onSelect={setSelected} onOpen={setOpen} />}
      </QueryState>
      <ProcessDetails hostId={hostId} node={open ? byId.get(open) ?? null : null} onClose={() => setOpen(null)} />
    </Stack>
  );
}

export function HostDetailPage() {
  const { id = '' } = useParams();
  const host = useHost(id);
  const [params, setParams] = useSearchParams();
  const tab = params.get('tab') ?? 'overview';
  return (
    <QueryState query={host} what="Host">
      {(h) => (
        <Stack>
          <Group><Title order={2}>{h.hostname}</Title><HostStatusBadge status={h.status} />
            <Anchor component={Link} size="sm" to={`/alerts?host=${encodeURIComponent(h.id)}`}>Alerts on this host</Anchor></Group>
          <Tabs value={tab} onChange={(t) => setParams(t === 'overview' ? {} : { tab: t ?? 'overview' })} keepMounted={false}>
            <Tabs.List mb="md">
              <Tabs.Tab value="overview">Overview</Tabs.Tab>
              <Tabs.Tab value="tree">Process tree</Tabs.Tab>
              <Tabs.Tab value="timeline">Timeline</Tabs.Tab>
              <Tabs.Tab value="response">Response</Tabs.Tab>
            </Tabs.List>
            <Tabs.Panel value="overview"><Stack><RiskCard risk={h.risk as RiskBreakdown | null} /><Overview host={h} /></Stack></Tabs.Panel>
            <Tabs.Panel value="tree"><TreeTab hostId={h.id} /></Tabs.Panel>
            <Tabs.Panel value="timeline"><HostTimeline hostId={h.id} /></Tabs.Panel>
            <Tabs.Panel value="response"><ResponseActions host={h} /></Tabs.Panel>
          </Tabs>
        </Stack>
      )}
    </QueryState>
  );
}
