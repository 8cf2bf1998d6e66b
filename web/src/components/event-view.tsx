// One event in full, as evidence: what happened (file path, source and destination, user, process and
// parent, hash when known), every value a pivot, and the raw JSON one click away.

import { useState, type ReactNode } from 'react';
import { Badge, Box, Button, Code, Collapse, Group, Stack, Table, Text } from '@mantine/core';
import type { EventRecord } from '../api/types.ts';
import { formatTime } from './format.ts';
import { Pivot } from './pivots.tsx';

/** The one-line gist of an event: its file, its connection, or its command line. */
export function gistOf(e: EventRecord): string {
  if (e.dns?.question?.name) return dnsGist(e.dns);
  if (e.file?.path) return e.file.target_path ? `${e.file.path} → ${e.file.target_path}` : e.file.path;
  if (e.destination?.ip || e.source?.ip) return `${e.source?.ip ?? '?'}:${e.source?.port ?? ''} → ${e.destination?.ip ?? '?'}:${e.destination?.port ?? ''}`;
  return e.process?.command_line ?? e.process?.executable ?? '';
}

/** "example.com A → 192.0.2.1, 192.0.2.2" (an answer), "example.com AAAA ?" (a query), "… NXDOMAIN". */
function dnsGist(d: NonNullable<EventRecord['dns']>): string {
  const q = `${d.question?.name ?? ''} ${d.question?.type ?? ''}`;
  if (d.type === 'query') return `${q} ?`;
  const answers = d.resolved_ip?.length ? d.resolved_ip.join(', ') : (d.answers ?? []).map((a) => a.data).filter(Boolean).join(', ');
  return `${q} → ${answers || d.response_code || 'no answer'}`;
}

function Row({ label, children }: { label: string; children: ReactNode }) {
  return <Table.Tr><Table.Td c="dimmed" w={150} style={{ verticalAlign: 'top' }}>{label}</Table.Td><Table.Td style={{ wordBreak: 'break-all' }}>{children}</Table.Td></Table.Tr>;
}

function endpoint(hostId: string | undefined, a?: { ip?: string; port?: number }): ReactNode {
  if (!a?.ip) return null;
  return <><Pivot kind="address" value={a.ip} hostId={hostId} mono />{a.port !== undefined ? <Text span ff="monospace" inherit>:{a.port}</Text> : null}</>;
}

export function EventView({ e, hostId }: { e: EventRecord; hostId?: string }) {
  const [raw, setRaw] = useState(false);
  const p = e.process;
  const host = hostId ?? e.agent?.id ?? e.host?.id;
  const hash = p?.hash?.sha256;
  const what = e.event ?? {}; // an imported record an alert kept may have no event.* fields
  return (
    <Box data-testid="evidence-event" data-event-id={what.id}
      style={{ border: '1px solid var(--mantine-color-default-border)', borderRadius: 6 }} p="xs">
      <Group gap="xs" mb={4}>
        <Badge variant="light">{what.type ?? 'record'}</Badge>
        {what.action && <Text size="xs" c="dimmed">{what.action}</Text>}
        <Text size="sm">{formatTime(e['@timestamp'])}</Text>
        {what.outcome && what.outcome !== 'success' && <Badge color="orange" variant="outline" size="sm">{what.outcome}</Badge>}
      </Group>
      <Table fz="sm" withRowBorders={false} verticalSpacing={2}>
        <Table.Tbody>
          {e.file?.path && <Row label="File">
            <Pivot kind="file" value={e.file.path} hostId={host} mono />
            {e.file.target_path && <> → <Pivot kind="file" value={e.file.target_path} hostId={host} mono /></>}
            {(e.file.mode || e.file.owner) && <Text span size="xs" c="dimmed"> {e.file.mode ? `mode ${e.file.mode}` : ''} {e.file.owner ? `owner ${e.file.owner}` : ''}</Text>}
          </Row>}
          {(e.source?.ip || e.destination?.ip) && <Row label="Connection">
            {endpoint(host, e.source) ?? <Text span c="dimmed" inherit>?</Text>} → {endpoint(host, e.destination) ?? <Text span c="dimmed" inherit>?</Text>}
            {e.network?.transport && <Text span size="xs" c="dimmed"> {e.network.transport}{e.network.direction ? ` ${e.network.direction}` : ''}</Text>}
          </Row>}
          {p && <Row label="Process">
            <Pivot kind="process" value={p.executable ?? String(p.pid)} hostId={host} entityId={p.entity_id} mono />
            {p.pid !== undefined && <Text span size="xs" c="dimmed"> pid {p.pid}</Text>}
          </Row>}
          {p?.command_line && <Row label="Command line"><Code style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>{p.command_line}</Code></Row>}
          {p?.working_directory && <Row label="Working directory"><Text span ff="monospace" inherit>{p.working_directory}</Text></Row>}
          {(e.user?.name || e.user?.id !== undefined) && <Row label="User">
            {e.user?.name ? <Pivot kind="user" value={e.user.name} hostId={host} /> : null}
            {e.user?.id !== undefined && <Text span size="xs" c="dimmed"> uid {String(e.user.id)}</Text>}
          </Row>}
          {p?.parent && <Row label="Parent">
            <Pivot kind="process" value={p.parent.executable ?? String(p.parent.pid)} hostId={host} entityId={p.parent.entity_id} mono />
            {p.parent.pid !== undefined && <Text span size="xs" c="dimmed"> pid {p.parent.pid}</Text>}
            {p.parent.command_line && p.parent.command_line !== p.parent.executable && <Code ml="xs" style={{ wordBreak: 'break-all' }}>{p.parent.command_line}</Code>}
          </Row>}
          {e.dns && <Row label="DNS">
            <Text span ff="monospace" inherit>{dnsGist(e.dns)}</Text>
            <Text span size="xs" c="dimmed"> {e.dns.type}{e.dns.response_code ? ` ${e.dns.response_code}` : ''}{e.dns.id ? ` id ${e.dns.id}` : ''}</Text>
          </Row>}
          {e.container?.id && <Row label="Container">
            <Code title={e.container.id}>{e.container.id.slice(0, 12)}</Code>{e.container.runtime && <Text span size="xs" c="dimmed"> {e.container.runtime}</Text>}
            {e.orchestrator?.resource?.id && <Text span size="xs" c="dimmed"> pod {e.orchestrator.namespace ? `${e.orchestrator.namespace}/` : ''}{e.orchestrator.resource.name ?? e.orchestrator.resource.id}</Text>}
          </Row>}
          <Row label="SHA-256">{hash ? <Pivot kind="hash" value={hash} hostId={host} mono /> : <Text span c="dimmed" inherit>not known</Text>}</Row>
        </Table.Tbody>
      </Table>
      <Stack gap={4} mt={4}>
        <Button size="compact-xs" variant="subtle" w="fit-content" onClick={() => setRaw((r) => !r)} aria-expanded={raw}>
          {raw ? 'Hide raw JSON' : 'Show raw JSON'}
        </Button>
        <Collapse expanded={raw}>
          <Code block fz="xs" style={{ maxHeight: 360, overflow: 'auto' }} data-testid="raw-json">{JSON.stringify(e, null, 2)}</Code>
        </Collapse>
      </Stack>
    </Box>
  );
}
