// A host's timeline: its events newest first, filtered by event type, by process (an entity id, from a link),
// by text (command line, executable or file path) and by time range, all kept in the URL. Rows show what the
// event did — the DNS question and answer, the file path, the connection, the command line — and every process, file, user, hash and
// address is a pivot.

import { Anchor, Badge, Button, Group, MultiSelect, Stack, Table, Text, TextInput } from '@mantine/core';
import { Link, useSearchParams } from 'react-router';
import { useEvents, useProcess } from '../api/queries.ts';
import type { VigilEvent } from '../api/types.ts';
import { formatTime, localInputValue } from './format.ts';
import { gistOf } from './event-view.tsx';
import { basename } from './lineage.tsx';
import { Pivot, processUrl } from './pivots.tsx';
import { QueryState } from './query-state.tsx';

export const EVENT_TYPES = [
  'process_start', 'process_end', 'process_fork', 'network_connection', 'network_accept', 'network_send', 'file_create', 'file_write',
  'file_delete', 'file_rename', 'file_chmod', 'file_chown', 'privilege_change', 'ptrace', 'module_load', 'memfd_exec', 'process_hash', 'dns', 'windows',
];

function What({ e, hostId }: { e: VigilEvent; hostId: string }) {
  const parts = [];
  if (e.dns?.question?.name) parts.push(<Text key="d" span ff="monospace" inherit>{gistOf(e)}</Text>);
  if (e.file?.path) {
    parts.push(<span key="f"><Pivot kind="file" value={e.file.path} hostId={hostId} mono />
      {e.file.target_path && <> → <Pivot kind="file" value={e.file.target_path} hostId={hostId} mono /></>}</span>);
  }
  if (e.destination?.ip || e.source?.ip) {
    parts.push(<span key="n">
      {e.source?.ip ? <Pivot kind="address" value={e.source.ip} hostId={hostId} mono /> : '?'}{e.source?.port !== undefined ? `:${e.source.port}` : ''}
      {' → '}
      {e.destination?.ip ? <Pivot kind="address" value={e.destination.ip} hostId={hostId} mono /> : '?'}{e.destination?.port !== undefined ? `:${e.destination.port}` : ''}
    </span>);
  }
  if (!parts.length || e.event.type.startsWith('process_')) {
    const cmd = e.process?.command_line ?? e.process?.executable;
    if (cmd) parts.push(<Text key="c" span ff="monospace" inherit>{cmd}</Text>);
  }
  const hash = e.process?.hash?.sha256;
  if (hash && (e.event.type === 'process_start' || e.event.type === 'process_hash')) parts.push(<Text key="h" span size="xs" c="dimmed"> sha256 <Pivot kind="hash" value={hash} hostId={hostId} mono>{hash.slice(0, 16)}…</Pivot></Text>);
  return <Stack gap={0}>{parts}</Stack>;
}

export function TimelineRows({ events, hostId }: { events: VigilEvent[]; hostId: string }) {
  return (
    <Table fz="sm" striped aria-label="Timeline">
      <Table.Thead><Table.Tr><Table.Th>Time</Table.Th><Table.Th>Type</Table.Th><Table.Th>Process</Table.Th><Table.Th>User</Table.Th><Table.Th>What</Table.Th></Table.Tr></Table.Thead>
      <Table.Tbody>
        {events.map((e) => (
          <Table.Tr key={e.event.id} data-event-type={e.event.type}>
            <Table.Td style={{ whiteSpace: 'nowrap' }}>{formatTime(e['@timestamp'])}</Table.Td>
            <Table.Td style={{ whiteSpace: 'nowrap' }}>{e.event.type}{e.event.action === 'snapshot' && <Badge ml={4} size="xs" variant="outline" color="gray">snapshot</Badge>}</Table.Td>
            <Table.Td style={{ whiteSpace: 'nowrap' }}>
              {e.process?.entity_id
                ? <Anchor component={Link} to={processUrl(hostId, e.process.entity_id)} title={e.process.executable}>{basename(e.process.executable ?? '') || 'process'}</Anchor>
                : basename(e.process?.executable ?? '')}
              {e.process?.pid !== undefined && <Text span size="xs" c="dimmed"> {e.process.pid}</Text>}
            </Table.Td>
            <Table.Td>{e.user?.name ? <Pivot kind="user" value={e.user.name} hostId={hostId} /> : e.user?.id !== undefined ? `uid ${String(e.user.id)}` : ''}</Table.Td>
            <Table.Td style={{ wordBreak: 'break-all' }}><What e={e} hostId={hostId} /></Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function ProcessFilterNote({ hostId, entityId, onClear }: { hostId: string; entityId: string; onClear: () => void }) {
  const proc = useProcess(hostId, entityId);
  const p = proc.data?.process;
  return (
    <Group gap="xs">
      <Text size="sm">Process:</Text>
      <Badge variant="light" size="lg" style={{ textTransform: 'none' }}>
        {p ? <Anchor component={Link} to={processUrl(hostId, entityId)} size="sm">{basename(p.executable)} pid {p.pid}</Anchor> : entityId}
      </Badge>
      <Button size="compact-xs" variant="subtle" onClick={onClear}>all processes</Button>
    </Group>
  );
}

function HostEvents({ hostId, process, f }: { hostId: string; process: string | null; f: { type?: string; q?: string; from?: string; to?: string } }) {
  // A process filter is the server's (GET /events?process_entity_id=), like every other filter here.
  const events = useEvents({ host: hostId, process_entity_id: process ?? undefined, ...f, limit: 200 });
  return (
    <QueryState query={events} what="Events" isEmpty={(d) => d.events.length === 0}
      empty={process ? 'No event of this process matches these filters.' : 'No event matches these filters.'}>
      {(d) => (
        <Stack gap="xs">
          <Text size="xs" c="dimmed" data-testid="timeline-count">{d.events.length} most recent events{process ? ' of this process' : ''}{d.next ? ' (more exist: narrow the filters or the time range)' : ''}.</Text>
          <TimelineRows events={d.events} hostId={hostId} />
        </Stack>
      )}
    </QueryState>
  );
}

export function HostTimeline({ hostId }: { hostId: string }) {
  const [params, setParams] = useSearchParams();
  const set = (k: string, v: string | null) => { const p = new URLSearchParams(params); if (v) p.set(k, v); else p.delete(k); setParams(p, { replace: true }); };
  const f = { type: params.get('type') ?? undefined, q: params.get('q') ?? undefined, from: params.get('from') ?? undefined, to: params.get('to') ?? undefined };
  const process = params.get('process');
  const time = (k: 'from' | 'to', label: string) => (
    <TextInput type="datetime-local" label={label} w={200} value={params.get(k) ? localInputValue(new Date(params.get(k)!)) : ''}
      onChange={(e) => set(k, e.currentTarget.value ? new Date(e.currentTarget.value).toISOString() : null)} />
  );
  return (
    <Stack gap="sm">
      <Group align="flex-end">
        <MultiSelect label="Event types" placeholder={f.type ? undefined : 'all types'} data={EVENT_TYPES} w={320} clearable searchable
          value={f.type ? f.type.split(',') : []} onChange={(v) => set('type', v.join(','))} />
        <TextInput label="Text" placeholder="command line, executable or path" w={300} defaultValue={f.q ?? ''}
          onKeyDown={(e) => { if (e.key === 'Enter') set('q', e.currentTarget.value.trim()); }}
          onBlur={(e) => set('q', e.currentTarget.value.trim())} />
        {time('from', 'From')}{time('to', 'To')}
      </Group>
      {process && <ProcessFilterNote hostId={hostId} entityId={process} onClear={() => set('process', null)} />}
      <HostEvents hostId={hostId} process={process} f={f} />
    </Stack>
  );
}
