// One alert: triage, the rule (with its author, as the Sigma licence requires), MITRE techniques linked to
// the tactic view, the process ancestry from the host's tree at the time of the alert, and the matching events.

import { Anchor, Badge, Card, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { Link, useParams } from 'react-router';
import { useAlert, useProcessTree } from '../api/queries.ts';
import type { Alert } from '../api/types.ts';
import { AlertTriage } from '../components/alert-triage.tsx';
import { AlertStatusBadge, SeverityBadge } from '../components/badges.tsx';
import { formatTime } from '../components/format.ts';
import { QueryState } from '../components/query-state.tsx';
import { ancestry, indexTree } from '../tree/visible-rows.ts';

function Ancestry({ alert }: { alert: Alert }) {
  const tree = useProcessTree(alert.host_id, alert.first_seen);
  if (!alert.process_entity_id) return <Text size="sm" c="dimmed">The alert names no process.</Text>;
  const entity = alert.process_entity_id;
  return (
    <QueryState query={tree} what="Process ancestry">
      {(d) => {
        const chain = ancestry(indexTree(d.roots), entity);
        if (!chain.length) return <Text size="sm" c="dimmed">The process is not in the host's tree at {formatTime(alert.first_seen)}.</Text>;
        return (
          <Stack gap={2} aria-label="Process ancestry">
            {chain.map((n, i) => (
              <Text key={n.entity_id} size="sm" ff="monospace" pl={i * 14} fw={n.entity_id === entity ? 700 : undefined}>
                {i ? '└ ' : ''}{n.pid} {n.cmdline || n.exe}
              </Text>
            ))}
          </Stack>
        );
      }}
    </QueryState>
  );
}

function Events({ alert }: { alert: Alert }) {
  if (!alert.events.length) return <Text size="sm" c="dimmed">No events attached.</Text>;
  return (
    <Table fz="sm" aria-label="Matching events">
      <Table.Thead><Table.Tr><Table.Th>Time</Table.Th><Table.Th>Type</Table.Th><Table.Th>Process</Table.Th></Table.Tr></Table.Thead>
      <Table.Tbody>{alert.events.map((e) => (
        <Table.Tr key={e.event.id}><Table.Td>{formatTime(e['@timestamp'])}</Table.Td><Table.Td>{e.event.type}</Table.Td>
          <Table.Td ff="monospace" style={{ wordBreak: 'break-all' }}>{e.process?.command_line ?? ''}</Table.Td></Table.Tr>
      ))}</Table.Tbody>
    </Table>
  );
}

function RuleCard({ alert }: { alert: Alert }) {
  const r = alert.rule;
  return (
    <Card withBorder>
      <Title order={5}>Rule</Title>
      <Text fw={600}>{r.title}</Text>
      <Text size="sm" c="dimmed">{r.id} · by {r.author || 'unknown author'} · {r.status ?? ''}</Text>
      {r.description && <Text size="sm" mt="xs">{r.description}</Text>}
      {r.references?.map((u) => <Anchor key={u} href={u} target="_blank" size="sm" display="block">{u}</Anchor>)}
      <Title order={6} mt="sm">MITRE ATT&CK</Title>
      <Group gap="xs">
        {alert.techniques.length ? alert.techniques.map((t) => (
          <Anchor key={t.id} component={Link} to={`/mitre#${t.id}`}><Badge variant="outline">{t.id} {t.name}</Badge></Anchor>
        )) : <Text size="sm" c="dimmed">none</Text>}
      </Group>
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
          <Group><Title order={2}>{a.rule.title}</Title><SeverityBadge level={a.rule.level} /><AlertStatusBadge status={a.status} /></Group>
          <Text size="sm" c="dimmed">
            Host <Anchor component={Link} to={`/hosts/${a.host_id}`}>{a.host_id}</Anchor> · first {formatTime(a.first_seen)} · last {formatTime(a.last_seen)}
            {a.assignee && ` · assigned to ${a.assignee}`}{a.close_reason && ` · closed: ${a.close_reason}`}
            {a.suppressed_until && ` · suppressed until ${formatTime(a.suppressed_until)}`}
          </Text>
          <AlertTriage alert={a} />
          <SimpleGrid cols={{ base: 1, lg: 2 }}>
            <RuleCard alert={a} />
            <Card withBorder><Title order={5} mb="xs">Process ancestry</Title><Ancestry alert={a} /></Card>
          </SimpleGrid>
          <Card withBorder><Title order={5} mb="xs">Matching events</Title><Events alert={a} /></Card>
          <Card withBorder>
            <Title order={5} mb="xs">Comments</Title>
            {a.comments.length ? a.comments.map((c) => <Text key={c.at + c.author} size="sm"><b>{c.author}</b> ({formatTime(c.at)}): {c.text}</Text>)
              : <Text size="sm" c="dimmed">No comments.</Text>}
          </Card>
        </Stack>
      )}
    </QueryState>
  );
}
