// A process of a host (/hosts/:hostId/processes/:entityId), from GET /hosts/{id}/processes/{entity_id}: its
// summary, exec chain, ancestors and children (each a link to its own page), its events counted by type (each
// a link to the host timeline filtered to this process and type), the alerts about it, the files it touched;
// and response from here: kill this process, collect a file shown.

import { useMemo } from 'react';
import { Anchor, Badge, Card, Code, Group, SimpleGrid, Stack, Table, Text, Title } from '@mantine/core';
import { useQueries } from '@tanstack/react-query';
import { Link, useParams } from 'react-router';
import { api } from '../api/client.ts';
import { useEvents, useProcess } from '../api/queries.ts';
import type { Alert, ContainerFields, ExecutableFile, OrchestratorFields, ProcessInfo } from '../api/types.ts';
import { AlertStatusBadge, SeverityBadge } from '../components/badges.tsx';
import { formatTime } from '../components/format.ts';
import { basename, LineageChain } from '../components/lineage.tsx';
import { HostLink } from '../components/names.tsx';
import { Pivot, processUrl, timelineUrl } from '../components/pivots.tsx';
import { ResponseButton } from '../components/process-response.tsx';
import { QueryState } from '../components/query-state.tsx';

function Field({ label, children }: { label: string; children: React.ReactNode }) {
  return <Table.Tr><Table.Td c="dimmed" w={150} style={{ verticalAlign: 'top' }}>{label}</Table.Td><Table.Td style={{ wordBreak: 'break-all' }}>{children}</Table.Td></Table.Tr>;
}

function Summary({ d }: { d: ProcessInfo }) {
  const p = d.process;
  return (
    <Card withBorder>
      <Title order={5} mb="xs">Process</Title>
      <Table fz="sm" withRowBorders={false} verticalSpacing={3}><Table.Tbody>
        <Field label="Host"><HostLink id={d.host_id} /></Field>
        <Field label="Executable"><Text span ff="monospace" inherit>{p.executable}</Text></Field>
        <Field label="Command line"><Code block style={{ whiteSpace: 'pre-wrap', wordBreak: 'break-all' }}>{p.command_line || '—'}</Code></Field>
        <Field label="PID / PPID">{p.pid} / {p.ppid}</Field>
        <Field label="User">{p.user_name ? <Pivot kind="user" value={p.user_name} hostId={d.host_id} /> : '—'}{p.user_id && <Text span size="xs" c="dimmed"> uid {p.user_id}</Text>}</Field>
        <Field label="Started">{formatTime(p.start)}</Field>
        <Field label="Exited">{p.exit ? formatTime(p.exit) : 'still running (or its exit was not reported)'}</Field>
        <Field label="SHA-256">{p.hash?.sha256 ? <Pivot kind="hash" value={p.hash.sha256} hostId={d.host_id} mono /> : <Text span c="dimmed" inherit>{p.file ? 'not hashed (yet, or too large or unreadable)' : 'not known'}</Text>}</Field>
        {p.hash?.sha1 && <Field label="SHA-1"><Text span ff="monospace" inherit>{p.hash.sha1}</Text></Field>}
        {p.hash?.md5 && <Field label="MD5"><Text span ff="monospace" inherit>{p.hash.md5}</Text></Field>}
        {p.file && <Field label="Executable file"><ExecutableFileFacts f={p.file} /></Field>}
        {p.container?.id && <Field label="Container"><ContainerFacts c={p.container} o={p.orchestrator} /></Field>}
        <Field label="Entity id"><Code>{p.entity_id}</Code></Field>
      </Table.Tbody></Table>
    </Card>
  );
}

function ExecutableFileFacts({ f }: { f: ExecutableFile }) {
  return <Text span size="sm" inherit style={{ wordBreak: 'normal' }}>{f.size !== undefined ? `${f.size.toLocaleString()} bytes` : ''}{f.inode ? `, inode ${f.inode}` : ''}{f.device ? ` on device ${f.device}` : ''}{f.mtime ? `, modified ${formatTime(f.mtime)}` : ''}</Text>;
}

function ContainerFacts({ c, o }: { c: ContainerFields; o?: OrchestratorFields }) {
  const pod = o?.resource?.type === 'pod' ? o.resource : undefined;
  return (
    <Group gap={6}>
      <Code title={c.id}>{c.id!.slice(0, 12)}</Code>{c.runtime && <Badge size="sm" variant="light">{c.runtime}</Badge>}
      {pod && <Text span size="sm" inherit>pod {o?.namespace ? `${o.namespace}/` : ''}{pod.name ?? pod.id}</Text>}
    </Group>
  );
}

function ExecChain({ d }: { d: ProcessInfo }) {
  if (d.exec_chain.length === 0) return <Text size="sm" c="dimmed">No exec recorded for this process (it was forked and never ran another image).</Text>;
  return (
    <Table fz="sm" aria-label="Exec chain">
      <Table.Thead><Table.Tr><Table.Th>At</Table.Th><Table.Th>Executable</Table.Th><Table.Th>Command line</Table.Th><Table.Th>SHA-256</Table.Th></Table.Tr></Table.Thead>
      <Table.Tbody>{d.exec_chain.map((x, i) => (
        <Table.Tr key={x.event_id || i}>
          <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(x.at)}{x.snapshot && <Badge ml={4} size="xs" variant="outline" color="gray">running at agent start</Badge>}</Table.Td>
          <Table.Td ff="monospace" style={{ wordBreak: 'break-all' }}>{x.executable}</Table.Td>
          <Table.Td ff="monospace" style={{ wordBreak: 'break-all' }}>{x.command_line}</Table.Td>
          <Table.Td>{x.hash?.sha256 ? <Pivot kind="hash" value={x.hash.sha256} hostId={d.host_id} mono /> : <Text span size="xs" c="dimmed">—</Text>}</Table.Td>
        </Table.Tr>
      ))}</Table.Tbody>
    </Table>
  );
}

function Children({ d }: { d: ProcessInfo }) {
  if (d.children.length === 0) return <Text size="sm" c="dimmed">No child process recorded.</Text>;
  return (
    <Table fz="sm" aria-label="Children">
      <Table.Thead><Table.Tr><Table.Th>PID</Table.Th><Table.Th>Process</Table.Th><Table.Th>Command line</Table.Th><Table.Th>User</Table.Th><Table.Th>Started</Table.Th></Table.Tr></Table.Thead>
      <Table.Tbody>{d.children.map((c) => (
        <Table.Tr key={c.entity_id}>
          <Table.Td>{c.pid}</Table.Td>
          <Table.Td><Anchor component={Link} to={processUrl(d.host_id, c.entity_id)} fw={600}>{basename(c.executable)}</Anchor>{c.exit && <Text span size="xs" c="dimmed"> (exited)</Text>}</Table.Td>
          <Table.Td ff="monospace" style={{ wordBreak: 'break-all' }}>{c.command_line}</Table.Td>
          <Table.Td>{c.user_name ? <Pivot kind="user" value={c.user_name} hostId={d.host_id} /> : c.user_id}</Table.Td>
          <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(c.start)}</Table.Td>
        </Table.Tr>
      ))}</Table.Tbody>
    </Table>
  );
}

function EventCounts({ d }: { d: ProcessInfo }) {
  const entries = Object.entries(d.events).sort((a, b) => b[1] - a[1]);
  if (!entries.length) return <Text size="sm" c="dimmed">No events recorded.</Text>;
  return (
    <Stack gap={4} aria-label="Events by type">
      {entries.map(([type, n]) => (
        <Group key={type} justify="space-between" wrap="nowrap">
          <Anchor component={Link} size="sm" to={timelineUrl(d.host_id, { process: d.process.entity_id, type })}>{type}</Anchor>
          <Text size="sm" fw={600}>{n.toLocaleString()}</Text>
        </Group>
      ))}
      <Anchor component={Link} size="sm" mt={4} to={timelineUrl(d.host_id, { process: d.process.entity_id })}>All events of this process on the timeline</Anchor>
    </Stack>
  );
}

function Alerts({ d }: { d: ProcessInfo }) {
  const shown = d.alerts.slice(0, 50);
  const alerts = useQueries({ queries: shown.map((id) => ({ queryKey: ['alerts', 'one', id], queryFn: () => api<Alert>(`/alerts/${encodeURIComponent(id)}`) })) });
  if (!d.alerts.length) return <Text size="sm" c="dimmed">No alert about this process.</Text>;
  return (
    <Stack gap={6} aria-label="Alerts about this process">
      {shown.map((id, i) => {
        const a = alerts[i]?.data;
        return (
          <Group key={id} gap="xs" wrap="nowrap">
            {a && <SeverityBadge level={a.rule.level} />}
            <Anchor component={Link} to={`/alerts/${encodeURIComponent(id)}`} size="sm">{a ? a.rule.title : `alert ${id.slice(0, 10)}…`}</Anchor>
            {a && <AlertStatusBadge status={a.status} />}
            {a && (a.occurrences ?? 1) > 1 && <Text size="xs" c="dimmed">× {a.occurrences}</Text>}
          </Group>
        );
      })}
      {d.alerts.length > shown.length && <Text size="xs" c="dimmed">and {d.alerts.length - shown.length} more</Text>}
    </Stack>
  );
}

/** The files this process touched (and its own executable), each collectable. */
function Files({ d, hostname }: { d: ProcessInfo; hostname: string }) {
  // The events of this process entity, filtered by the server (GET /events?process_entity_id=).
  const events = useEvents({ host: d.host_id, process_entity_id: d.process.entity_id, limit: 2000 });
  const files = useMemo(() => {
    const seen = new Map<string, string>();
    const add = (path: string | undefined, why: string) => { if (path && path.startsWith('/') && !seen.has(path)) seen.set(path, why); };
    add(d.process.executable, 'its executable');
    for (const x of d.exec_chain) add(x.executable, 'an image it ran');
    for (const e of events.data?.events ?? []) {
      add(e.file?.path, e.event.type);
      add(e.file?.target_path, `${e.event.type} target`);
    }
    return [...seen];
  }, [d, events.data]);
  const connections = (events.data?.events ?? []).filter((e) => e.destination?.ip || e.source?.ip).slice(0, 200);
  return (
    <Stack gap="xs">
      <Table fz="sm" aria-label="Files">
        <Table.Tbody>{files.map(([path, why]) => (
          <Table.Tr key={path}>
            <Table.Td style={{ wordBreak: 'break-all' }}><Pivot kind="file" value={path} hostId={d.host_id} mono /></Table.Td>
            <Table.Td><Text size="xs" c="dimmed">{why}</Text></Table.Td>
            <Table.Td ta="right"><ResponseButton hostId={d.host_id} hostname={hostname} request={{ action: 'get-file', path }} label="Collect file" size="compact-xs" /></Table.Td>
          </Table.Tr>
        ))}</Table.Tbody>
      </Table>
      {connections.length > 0 && (
        <Table fz="sm" aria-label="Connections">
          <Table.Thead><Table.Tr><Table.Th>Connection</Table.Th><Table.Th>Type</Table.Th><Table.Th>At</Table.Th></Table.Tr></Table.Thead>
          <Table.Tbody>{connections.map((e) => (
            <Table.Tr key={e.event.id}>
              <Table.Td ff="monospace">
                {e.source?.ip ? <Pivot kind="address" value={e.source.ip} hostId={d.host_id} mono /> : '?'}{e.source?.port !== undefined ? `:${e.source.port}` : ''}
                {' → '}{e.destination?.ip ? <Pivot kind="address" value={e.destination.ip} hostId={d.host_id} mono /> : '?'}{e.destination?.port !== undefined ? `:${e.destination.port}` : ''}
              </Table.Td>
              <Table.Td>{e.event.type}</Table.Td><Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(e['@timestamp'])}</Table.Td>
            </Table.Tr>
          ))}</Table.Tbody>
        </Table>
      )}
      {events.isPending && <Text size="xs" c="dimmed">Reading the process's events for the files and connections…</Text>}
      {events.data?.next && <Text size="xs" c="dimmed">Files and connections from the process's 2,000 most recent events; open its timeline for the rest.</Text>}
    </Stack>
  );
}

export function ProcessPage() {
  const { hostId = '', entityId = '' } = useParams();
  const proc = useProcess(hostId, entityId);
  return (
    <QueryState query={proc} what="Process">
      {(d) => {
        const p = d.process;
        return (
          <Stack>
            <Group justify="space-between" align="flex-start">
              <Stack gap={2}>
                <Group gap="xs">
                  <Title order={2}>{basename(p.executable)} <Text span c="dimmed" fz="lg">pid {p.pid}</Text></Title>
                  {p.exit ? <Badge color="gray" variant="light">exited</Badge> : <Badge color="green" variant="light">running</Badge>}
                  {d.alerts.length > 0 && <Badge color="red">{d.alerts.length} alert{d.alerts.length === 1 ? '' : 's'}</Badge>}
                </Group>
                <Text size="sm" c="dimmed">on <HostLink id={d.host_id} /> · started {formatTime(p.start)}</Text>
              </Stack>
              <Group gap="xs">
                <ResponseButton hostId={d.host_id} hostname={d.hostname} request={{ action: 'kill-process', pid: p.pid, entity_id: p.entity_id, executable: p.executable }} label="Kill process" size="sm" />
                <Anchor component={Link} size="sm" to={timelineUrl(d.host_id, { process: p.entity_id })}>Timeline</Anchor>
              </Group>
            </Group>
            <SimpleGrid cols={{ base: 1, lg: 2 }}>
              <Summary d={d} />
              <Stack>
                <Card withBorder><Title order={5} mb="xs">Alerts about it</Title><Alerts d={d} /></Card>
                <Card withBorder><Title order={5} mb="xs">Events by type</Title><EventCounts d={d} /></Card>
              </Stack>
            </SimpleGrid>
            <Card withBorder>
              <Title order={5} mb="xs">Ancestors</Title>
              {d.ancestors.length
                ? <LineageChain hostId={d.host_id} ancestors={d.ancestors} focus={p} focusNote="this process" label="Ancestors" />
                : <Text size="sm" c="dimmed">No ancestor was observed (the parent, pid {p.ppid}, was never seen by the agent).</Text>}
            </Card>
            <Card withBorder><Title order={5} mb="xs">Exec chain</Title><ExecChain d={d} /></Card>
            <Card withBorder><Title order={5} mb="xs">Children ({d.children.length})</Title><Children d={d} /></Card>
            <Card withBorder><Title order={5} mb="xs">Files and connections</Title><Files d={d} hostname={d.hostname} /></Card>
          </Stack>
        );
      }}
    </QueryState>
  );
}
