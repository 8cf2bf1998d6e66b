// One alert, the whole story: what fired (the rule with its title, level and AUTHOR — the Sigma licence asks
// for it — and its MITRE techniques by name), where (the host by name), how often (occurrences, first and last
// seen), the process lineage the alert captured (root first, each node a link to its process page) and the
// evidence (every matching event in full, the raw JSON collapsible); triage and comments.

import { Anchor, Badge, Card, Group, SimpleGrid, Stack, Text, Title } from '@mantine/core';
import { Link, useParams } from 'react-router';
import { useAlert } from '../api/queries.ts';
import { useQuery } from '@tanstack/react-query';
import { api } from '../api/client.ts';
import type { Alert, Incident } from '../api/types.ts';
import { AlertTriage } from '../components/alert-triage.tsx';
import { AlertStatusBadge, SeverityBadge } from '../components/badges.tsx';
import { AlertDeliveries } from '../components/delivery-badges.tsx';
import { EventView } from '../components/event-view.tsx';
import { formatTime } from '../components/format.ts';
import { LineageChain } from '../components/lineage.tsx';
import { HostLink, UserName } from '../components/names.tsx';
import { processUrl } from '../components/pivots.tsx';
import { QueryState } from '../components/query-state.tsx';

function Lineage({ alert }: { alert: Alert }) {
  const p = alert.process;
  const hostId = alert.host_id;
  if (!p || !hostId) {
    if (alert.group_by && Object.keys(alert.group_by).length) {
      return <Text size="sm" c="dimmed">A correlation over several events, grouped by {Object.entries(alert.group_by).map(([k, v]) => `${k} = ${v}`).join(', ')}: it names no single process.</Text>;
    }
    return <Text size="sm" c="dimmed">The alert names no process (its rule matched an event without one).</Text>;
  }
  const ancestors = alert.ancestors ?? [];
  return (
    <Stack gap="xs">
      <LineageChain hostId={hostId} ancestors={ancestors} focus={p} />
      <Text size="xs" c="dimmed">
        {ancestors.length
          ? `Captured when the alert was made, root first (${ancestors.length} ancestor${ancestors.length === 1 ? '' : 's'}); the chain ends at pid 1 or at the first ancestor Vigil never observed.`
          : 'No ancestor was known when the alert was made (the parent was never observed).'}
      </Text>
    </Stack>
  );
}

function Evidence({ alert }: { alert: Alert }) {
  const n = alert.occurrences ?? 1;
  if (!alert.events.length) {
    return <Text size="sm" c="dimmed">No events attached{alert.event_ids?.length ? ` (the alert names ${alert.event_ids.length} event ids: a correlation keeps ids only)` : ''}.</Text>;
  }
  return (
    <Stack gap="xs" aria-label="Matching events">
      {n > alert.events.length && <Text size="xs" c="dimmed">The rule matched {n} times; the alert keeps the first {alert.events.length} events.</Text>}
      {alert.events.map((e, i) => <EventView key={e.event?.id ?? i} e={e} hostId={alert.host_id} />)}
    </Stack>
  );
}

function RuleCard({ alert }: { alert: Alert }) {
  const r = alert.rule;
  return (
    <Card withBorder>
      <Title order={5}>Rule</Title>
      <Group gap="xs" mt={4}><Text fw={600}>{r.title}</Text><SeverityBadge level={r.level} /></Group>
      <Text size="sm" data-testid="rule-author"><Text span c="dimmed" inherit>Author: </Text>{r.author || 'not stated by the rule'}</Text>
      <Text size="xs" c="dimmed">id {r.id}{r.status ? ` · ${r.status}` : ''}</Text>
      {r.description && <Text size="sm" mt="xs">{r.description}</Text>}
      {r.references?.map((u) => /^https?:\/\//.test(u)
        ? <Anchor key={u} href={u} target="_blank" rel="noreferrer" size="sm" display="block">{u}</Anchor>
        : <Text key={u} size="sm" c="dimmed">{u}</Text>)}
      <Anchor component={Link} to={`/alerts?rule=${encodeURIComponent(r.id)}`} size="sm" display="block" mt="xs">Other alerts of this rule</Anchor>
      <Title order={6} mt="sm">MITRE ATT&CK</Title>
      <Stack gap={4} aria-label="MITRE techniques" role="list">
        {alert.techniques.length ? alert.techniques.map((t) => (
          <Group key={t.id} gap="xs" wrap="nowrap" role="listitem">
            <Anchor component={Link} to={`/mitre#${t.id}`}><Badge variant="outline" style={{ flexShrink: 0 }}>{t.id}</Badge></Anchor>
            <Text size="sm">{t.name || 'unnamed technique'}</Text>
            {t.tactics.length > 0 && <Text size="xs" c="dimmed">{t.tactics.map((x) => x.replace(/-/g, ' ')).join(', ')}</Text>}
          </Group>
        )) : <Text size="sm" c="dimmed">none</Text>}
      </Stack>
    </Card>
  );
}

/** The incident holding this alert (GET /alerts/{id}/incident), when the server groups alerts. */
function IncidentOf({ alertId }: { alertId: string }) {
  const q = useQuery({ queryKey: ['incidents', 'of', alertId], retry: false, queryFn: () => api<Incident>(`/alerts/${encodeURIComponent(alertId)}/incident`) });
  if (!q.data) return null;
  return <Text size="sm"><Text span c="dimmed" inherit>Incident </Text><Anchor component={Link} to={`/incidents/${q.data.id}`}>{q.data.title}</Anchor> ({q.data.status})</Text>;
}

function Facts({ a }: { a: Alert }) {
  const n = a.occurrences ?? 1;
  return (
    <Card withBorder>
      <Title order={5} mb="xs">Occurrence</Title>
      <Stack gap={4}>
        <Text size="sm"><Text span c="dimmed" inherit>Host </Text><HostLink id={a.host_id} /></Text>
        <Text size="sm" data-testid="occurrences"><Text span c="dimmed" inherit>Occurrences </Text>{n}</Text>
        <Text size="sm"><Text span c="dimmed" inherit>First seen </Text>{formatTime(a.first_seen)}</Text>
        <Text size="sm"><Text span c="dimmed" inherit>Last seen </Text>{formatTime(a.last_seen)}</Text>
        <Text size="sm"><Text span c="dimmed" inherit>Assignee </Text><UserName id={a.assignee} /></Text>
        {a.disposition && <Text size="sm"><Text span c="dimmed" inherit>Disposition </Text>{String(a.disposition).replace(/_/g, ' ')}</Text>}
        {a.close_reason && <Text size="sm"><Text span c="dimmed" inherit>Closed </Text>{a.close_reason}</Text>}
        {a.exception_id && <Text size="sm"><Text span c="dimmed" inherit>Excepted by </Text><Anchor component={Link} to="/exceptions">an exception</Anchor> (stored as expected, not delivered)</Text>}
        <IncidentOf alertId={a.id} />
        {a.process && a.host_id && <Anchor component={Link} size="sm" to={processUrl(a.host_id, a.process.entity_id)}>Respond on the process page (kill, collect a file)</Anchor>}
      </Stack>
    </Card>
  );
}

export function AlertDetailPage() {
  const { id = '' } = useParams();
  const alert = useAlert(id);
  return (
    <QueryState query={alert} what="Alert">
      {(a) => (
        <Stack>
          <Group gap="xs">
            <Title order={2}>{a.rule.title}</Title><SeverityBadge level={a.rule.level} /><AlertStatusBadge status={a.status} />
            {(a.occurrences ?? 1) > 1 && <Badge variant="light" color="gray">× {a.occurrences}</Badge>}
          </Group>
          <AlertTriage alert={a} />
          <SimpleGrid cols={{ base: 1, lg: 2 }}>
            <RuleCard alert={a} />
            <Facts a={a} />
          </SimpleGrid>
          <Card withBorder><Title order={5} mb="xs">Process lineage</Title><Lineage alert={a} /></Card>
          <Card withBorder><Title order={5} mb="xs">Evidence: matching events</Title><Evidence alert={a} /></Card>
          <Card withBorder><Title order={5} mb="xs">Deliveries to alert sinks</Title><AlertDeliveries alertId={a.id} /></Card>
          <Card withBorder>
            <Title order={5} mb="xs">Comments</Title>
            {a.comments.length ? a.comments.map((c) => <Text key={c.at + c.author} size="sm"><b><UserName id={c.author} /></b> ({formatTime(c.at)}): {c.text}</Text>)
              : <Text size="sm" c="dimmed">No comments.</Text>}
          </Card>
        </Stack>
      )}
    </QueryState>
  );
}
