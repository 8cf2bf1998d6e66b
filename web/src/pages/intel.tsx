// Threat intelligence: the tenant's indicator lists (GET/POST/DELETE /intel/lists) with their format, source
// (uploaded, or a URL polled on a schedule), indicators loaded and entries rejected, last load and the last polling
// error; adding a list (CSV, STIX 2.1 bundle or MISP feed event, pasted or from a file, or a URL with its interval)
// and deleting one. Matches become alerts (rule `intel:<list id>`), linked from each list.

import { useState, type FormEvent } from 'react';
import { Anchor, Badge, Button, FileButton, Group, Modal, NumberInput, SegmentedControl, Select, Stack, Table, Text, TextInput, Textarea, Title, Tooltip } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import type { ApiPaths } from '../api/generated.ts';
import { useApiAction } from '../api/queries.ts';
import { formatAgo, formatCount, formatTime } from '../components/format.ts';
import { ErrorState, QueryState } from '../components/query-state.tsx';

type IntelList = ApiPaths['/intel/lists']['get']['answers']['200']['lists'][number];
type Format = IntelList['format'];

const FORMAT_LABELS: Record<Format, string> = { csv: 'CSV', stix: 'STIX 2.1 bundle', misp: 'MISP feed event' };
const useLists = () => useQuery({ queryKey: ['intel-lists'], queryFn: () => api<{ lists: IntelList[] }>('/intel/lists'), refetchInterval: 10_000 });

interface Form { name: string; format: Format; source: 'content' | 'url'; content: string; fileName: string | null; url: string; poll: number | string; confidence: number | string }

function AddListDialog({ onClose }: { onClose: () => void }) {
  const [f, setF] = useState<Form>({ name: '', format: 'csv', source: 'content', content: '', fileName: null, url: '', poll: 3600, confidence: 50 });
  const set = (p: Partial<Form>) => setF((old) => ({ ...old, ...p }));
  const client = useQueryClient();
  const save = useMutation({
    mutationFn: () => api('/intel/lists', { method: 'POST', body: {
      name: f.name, format: f.format, default_confidence: Number(f.confidence),
      ...(f.source === 'content' ? { content: f.content } : { url: f.url, poll_interval_seconds: Number(f.poll) }),
    } }),
    onSuccess: async () => { await client.invalidateQueries({ queryKey: ['intel-lists'] }); onClose(); },
  });
  const submit = (e: FormEvent) => { e.preventDefault(); save.mutate(); };
  const readFile = (file: File | null) => { if (file) void file.text().then((content) => set({ content, fileName: file.name, name: f.name || file.name.replace(/\.[^.]+$/, '') })); };
  return (
    <Modal opened onClose={onClose} title="Add an indicator list" size="lg">
      <form onSubmit={submit}>
        <Stack>
          <Group grow>
            <TextInput label="Name" required value={f.name} onChange={(e) => set({ name: e.currentTarget.value })} />
            <Select label="Format" allowDeselect={false} value={f.format} onChange={(v) => set({ format: (v ?? 'csv') as Format })}
              data={Object.entries(FORMAT_LABELS).map(([value, label]) => ({ value, label }))} />
            <NumberInput label="Default confidence" description="for indicators without one" min={0} max={100} value={f.confidence} onChange={(v) => set({ confidence: v })} />
          </Group>
          <SegmentedControl value={f.source} onChange={(v) => set({ source: v as Form['source'] })}
            data={[{ value: 'content', label: 'Paste or upload' }, { value: 'url', label: 'Poll a URL' }]} />
          {f.source === 'content' ? (
            <>
              <Group>
                <FileButton onChange={readFile} accept=".csv,.txt,.json">{(props) => <Button variant="default" {...props}>Choose a file…</Button>}</FileButton>
                {f.fileName && <Text size="sm" c="dimmed">{f.fileName}: {formatCount(f.content.length)} characters</Text>}
              </Group>
              <Textarea label="Content" required autosize minRows={4} maxRows={12} value={f.content.length > 200_000 ? `${f.content.slice(0, 2000)}\n… (${formatCount(f.content.length)} characters from ${f.fileName ?? 'the file'})` : f.content}
                readOnly={f.content.length > 200_000} onChange={(e) => set({ content: e.currentTarget.value, fileName: null })}
                placeholder={f.format === 'csv' ? 'value,type,confidence\n203.0.113.7,ip,90\nevil.example.com,domain,60' : '{ "type": "bundle", "objects": [ … ] }'} />
            </>
          ) : (
            <Group grow>
              <TextInput label="Feed URL" required placeholder="https://feeds.example.com/indicators.csv" value={f.url} onChange={(e) => set({ url: e.currentTarget.value })} />
              <NumberInput label="Poll every (seconds)" min={60} max={604800} value={f.poll} onChange={(v) => set({ poll: v })} />
            </Group>
          )}
          {save.isError && <ErrorState error={save.error} what="Indicator list" />}
          <Group justify="flex-end"><Button variant="default" onClick={onClose}>Cancel</Button><Button type="submit" loading={save.isPending}>Add list</Button></Group>
        </Stack>
      </form>
    </Modal>
  );
}

function Source({ l }: { l: IntelList }) {
  if (l.source === 'upload') return <Text size="sm">uploaded</Text>;
  return (
    <Stack gap={0}>
      <Text size="sm" style={{ wordBreak: 'break-all' }}>{l.url}</Text>
      <Text size="xs" c="dimmed">every {formatInterval(l.poll_interval_seconds ?? 0)}{l.next_poll_at ? `, next ${formatTime(l.next_poll_at)}` : ''}</Text>
    </Stack>
  );
}

function formatInterval(s: number): string {
  if (s % 86_400 === 0) return `${s / 86_400} d`;
  if (s % 3600 === 0) return `${s / 3600} h`;
  return s % 60 === 0 ? `${s / 60} min` : `${s} s`;
}

export function IntelPage() {
  const lists = useLists();
  const [adding, setAdding] = useState(false);
  const remove = useApiAction((id: string) => ({ path: `/intel/lists/${encodeURIComponent(id)}`, method: 'DELETE' }), ['intel-lists']);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Threat intelligence</Title>
        <Button onClick={() => setAdding(true)}>Add list</Button>
      </Group>
      <Text size="sm" c="dimmed">
        Every event's process hashes, connection addresses and DNS names are matched against these lists (SHA-256, SHA-1, MD5, IP addresses and networks,
        domains with their subdomains); a match is an alert naming the indicator, its list and confidence. Lists load within seconds of a change.
      </Text>
      <QueryState query={lists} what="Indicator lists" isEmpty={(d) => d.lists.length === 0} empty="No indicator list yet: add a CSV, STIX 2.1 or MISP feed.">
        {(d) => (
          <Table fz="sm" aria-label="Indicator lists" verticalSpacing="xs">
            <Table.Thead><Table.Tr>
              <Table.Th>Name</Table.Th><Table.Th>Format</Table.Th><Table.Th>Source</Table.Th><Table.Th ta="right">Indicators</Table.Th>
              <Table.Th ta="right">Rejected</Table.Th><Table.Th>Last load</Table.Th><Table.Th>Status</Table.Th><Table.Th />
            </Table.Tr></Table.Thead>
            <Table.Tbody>{d.lists.map((l) => (
              <Table.Tr key={l.id} data-list={l.name}>
                <Table.Td><Text size="sm" fw={500}>{l.name}</Text><Text size="xs" c="dimmed">confidence {l.default_confidence} by default</Text></Table.Td>
                <Table.Td>{FORMAT_LABELS[l.format]}</Table.Td>
                <Table.Td maw={320}><Source l={l} /></Table.Td>
                <Table.Td ta="right" data-testid="indicators">{formatCount(l.indicators)}</Table.Td>
                <Table.Td ta="right">{formatCount(l.rejected)}</Table.Td>
                <Table.Td>{l.last_load_at ? <Tooltip label={formatTime(l.last_load_at)}><Text size="sm">{formatAgo(l.last_load_at)}</Text></Tooltip> : <Text size="sm" c="dimmed">not yet</Text>}</Table.Td>
                <Table.Td>
                  {l.last_error
                    ? <Tooltip label={l.last_error} multiline w={360}><Badge color="red" variant="light">poll failed</Badge></Tooltip>
                    : <Badge color={l.version > 0 ? 'green' : 'gray'} variant="light">{l.version > 0 ? `loaded (v${l.version})` : 'waiting'}</Badge>}
                </Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    <Anchor component={Link} size="sm" to={`/alerts?rule=${encodeURIComponent(`intel:${l.id}`)}`}>Alerts</Anchor>
                    <Button size="xs" variant="subtle" color="red" onClick={() => { if (confirm(`Delete the list ${l.name}? Its indicators stop matching.`)) remove.mutate(l.id); }}>Delete</Button>
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}</Table.Tbody>
          </Table>
        )}
      </QueryState>
      {remove.isError && <ErrorState error={remove.error} what="Deleting the list" />}
      {adding && <AddListDialog onClose={() => setAdding(false)} />}
    </Stack>
  );
}
