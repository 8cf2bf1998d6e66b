// Data protection: the tenant's protected data sets (GET/POST/DELETE /dlp/datasets) — a CSV whose chosen columns
// are fingerprinted on the server (only keyed fingerprints are kept; the file is sent once and not stored) — and
// the recent DLP findings that became alerts (the built-in DLP rules), with the policy, detector or data set, match
// count, masked excerpts, file and technique. DLP policies are the `dlp` section of agent policies (docs/dlp.md).

import { useState, type FormEvent } from 'react';
import { Anchor, Badge, Button, FileButton, Group, Modal, Select, Stack, Table, Text, TextInput, Title, Tooltip } from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Link } from 'react-router';
import { api } from '../api/client.ts';
import type { ApiPaths } from '../api/generated.ts';
import type { Alert } from '../api/types.ts';
import { useApiAction } from '../api/queries.ts';
import { formatAgo, formatCount, formatTime } from '../components/format.ts';
import { ErrorState, QueryState } from '../components/query-state.tsx';
import type { DlpFields } from '../../../src/schema/event.ts';

type Dataset = ApiPaths['/dlp/datasets']['get']['answers']['200']['datasets'][number];
type ColumnType = Dataset['columns'][number]['type'];

const TYPES: { value: ColumnType; label: string }[] = [
  { value: 'card', label: 'card number' }, { value: 'digits', label: 'digits (SSN, phone, account)' }, { value: 'id', label: 'identifier' },
  { value: 'email', label: 'e-mail' }, { value: 'name', label: 'name' }, { value: 'text', label: 'text' },
];
const SKIP = 'skip';
const useDatasets = () => useQuery({ queryKey: ['dlp-datasets'], queryFn: () => api<{ datasets: Dataset[] }>('/dlp/datasets'), refetchInterval: 30_000 });
const useFindings = () => useQuery({
  queryKey: ['dlp-findings'], refetchInterval: 15_000,
  queryFn: async () => (await api<{ alerts: Alert[] }>('/alerts?limit=500')).alerts.filter((a) => a.rule.title.startsWith('DLP Finding')),
});

function guessType(column: string): ColumnType | typeof SKIP {
  const c = column.toLowerCase();
  if (/card|pan\b/.test(c)) return 'card';
  if (/mail/.test(c)) return 'email';
  if (/ssn|phone|tel|account|iban/.test(c)) return 'digits';
  if (/name/.test(c)) return 'name';
  return SKIP;
}

function UploadDialog({ onClose }: { onClose: () => void }) {
  const [name, setName] = useState('');
  const [csv, setCsv] = useState<{ text: string; file: string; header: string[] } | null>(null);
  const [types, setTypes] = useState<Record<string, ColumnType | typeof SKIP>>({});
  const client = useQueryClient();
  const columns = Object.entries(types).filter(([, t]) => t !== SKIP).map(([n, t]) => ({ name: n, type: t as ColumnType }));
  const save = useMutation({
    mutationFn: () => api('/dlp/datasets', { method: 'POST', body: { name, columns, csv: csv!.text } }),
    onSuccess: async () => { await client.invalidateQueries({ queryKey: ['dlp-datasets'] }); onClose(); },
  });
  const readFile = (file: File | null) => {
    if (!file) return;
    void file.text().then((text) => {
      const header = (text.split(/\r?\n/, 1)[0] ?? '').split(',').map((h) => h.trim().replace(/^"|"$/g, ''));
      setCsv({ text, file: file.name, header });
      setTypes(Object.fromEntries(header.map((h) => [h, guessType(h)])));
      if (!name) setName(file.name.replace(/\.[^.]+$/, '').replace(/[^A-Za-z0-9 ._-]/g, '-'));
    });
  };
  const submit = (e: FormEvent) => { e.preventDefault(); save.mutate(); };
  return (
    <Modal opened onClose={onClose} title="Protect a data set" size="lg">
      <form onSubmit={submit}>
        <Stack>
          <Text size="sm" c="dimmed">The CSV (with a header row) is sent once: the server fingerprints the chosen columns with the tenant's key and keeps only the fingerprints.</Text>
          <Group>
            <FileButton onChange={readFile} accept=".csv,.txt">{(props) => <Button variant="default" {...props}>Choose a CSV…</Button>}</FileButton>
            {csv && <Text size="sm" c="dimmed">{csv.file}: {formatCount(csv.text.length)} characters, {csv.header.length} columns</Text>}
          </Group>
          <TextInput label="Name" required value={name} onChange={(e) => setName(e.currentTarget.value)} />
          {csv && (
            <Table fz="sm" aria-label="Columns">
              <Table.Thead><Table.Tr><Table.Th>Column</Table.Th><Table.Th>Protect as</Table.Th></Table.Tr></Table.Thead>
              <Table.Tbody>{csv.header.map((h) => (
                <Table.Tr key={h}>
                  <Table.Td>{h}</Table.Td>
                  <Table.Td><Select size="xs" allowDeselect={false} aria-label={`type of ${h}`} value={types[h] ?? SKIP}
                    onChange={(v) => setTypes((t) => ({ ...t, [h]: (v ?? SKIP) as ColumnType | typeof SKIP }))}
                    data={[{ value: SKIP, label: 'not protected' }, ...TYPES]} /></Table.Td>
                </Table.Tr>
              ))}</Table.Tbody>
            </Table>
          )}
          {save.isError && <ErrorState error={save.error} what="Data set" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>Cancel</Button>
            <Button type="submit" loading={save.isPending} disabled={!csv || columns.length === 0 || !name}>Fingerprint and keep</Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

function findingOf(a: Alert): DlpFields & { file?: string } {
  const e = a.events[0] as { dlp?: DlpFields; file?: { path?: string } } | undefined;
  return { ...e?.dlp, file: e?.file?.path };
}

const SEVERITY_COLOURS: Record<string, string> = { low: 'gray', medium: 'yellow', high: 'orange', critical: 'red', informational: 'gray' };

export function DlpPage() {
  const datasets = useDatasets();
  const findings = useFindings();
  const [adding, setAdding] = useState(false);
  const remove = useApiAction((id: string) => ({ path: `/dlp/datasets/${encodeURIComponent(id)}`, method: 'DELETE' }), ['dlp-datasets']);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Data protection</Title>
        <Button onClick={() => setAdding(true)}>Protect a data set</Button>
      </Group>
      <Text size="sm" c="dimmed">
        Agents scan the files that watched processes write (policies' <code>dlp</code> section) for card numbers, bank and national identifiers,
        private keys, cloud keys and tokens, and for the cells of protected data sets; findings carry masked excerpts only.
      </Text>
      <Title order={4}>Protected data sets</Title>
      <QueryState query={datasets} what="Data sets" isEmpty={(d) => d.datasets.length === 0} empty="No protected data set yet: upload a CSV and choose its columns.">
        {(d) => (
          <Table fz="sm" aria-label="Protected data sets" verticalSpacing="xs">
            <Table.Thead><Table.Tr>
              <Table.Th>Name</Table.Th><Table.Th>Columns</Table.Th><Table.Th ta="right">Rows</Table.Th><Table.Th ta="right">Fingerprints</Table.Th>
              <Table.Th ta="right">Size</Table.Th><Table.Th>Added</Table.Th><Table.Th />
            </Table.Tr></Table.Thead>
            <Table.Tbody>{d.datasets.map((s) => (
              <Table.Tr key={s.id} data-dataset={s.name}>
                <Table.Td><Text size="sm" fw={500}>{s.name}</Text><Text size="xs" c="dimmed">by {s.created_by}</Text></Table.Td>
                <Table.Td><Group gap={4}>{s.columns.map((c) => <Badge key={c.name} variant="light" size="sm">{c.name}: {c.type}</Badge>)}</Group></Table.Td>
                <Table.Td ta="right">{formatCount(s.rows)}</Table.Td>
                <Table.Td ta="right" data-testid="fingerprints">{formatCount(s.fingerprints)}</Table.Td>
                <Table.Td ta="right"><Tooltip label={`${s.bytes_per_fingerprint} bytes per fingerprint`}><Text size="sm">{(s.bytes / 2 ** 20).toFixed(1)} MiB</Text></Tooltip></Table.Td>
                <Table.Td><Tooltip label={formatTime(s.created_at)}><Text size="sm">{formatAgo(s.created_at)}</Text></Tooltip></Table.Td>
                <Table.Td><Button size="xs" variant="subtle" color="red" onClick={() => { if (confirm(`Delete the data set ${s.name}? Its fingerprints are removed.`)) remove.mutate(s.id); }}>Delete</Button></Table.Td>
              </Table.Tr>
            ))}</Table.Tbody>
          </Table>
        )}
      </QueryState>
      {remove.isError && <ErrorState error={remove.error} what="Deleting the data set" />}
      <Title order={4}>Recent findings</Title>
      <QueryState query={findings} what="DLP findings" isEmpty={(d) => d.length === 0} empty="No DLP finding has raised an alert.">
        {(d) => (
          <Table fz="sm" aria-label="DLP findings" verticalSpacing="xs">
            <Table.Thead><Table.Tr>
              <Table.Th>When</Table.Th><Table.Th>Severity</Table.Th><Table.Th>Policy</Table.Th><Table.Th>Found</Table.Th><Table.Th ta="right">Matches</Table.Th>
              <Table.Th>Excerpts</Table.Th><Table.Th>File</Table.Th><Table.Th>Technique</Table.Th>
            </Table.Tr></Table.Thead>
            <Table.Tbody>{d.map((a) => {
              const f = findingOf(a);
              return (
                <Table.Tr key={a.id} data-finding={a.id}>
                  <Table.Td><Anchor component={Link} size="sm" to={`/alerts/${encodeURIComponent(a.id)}`}>{formatAgo(a.first_seen)}</Anchor></Table.Td>
                  <Table.Td><Badge color={SEVERITY_COLOURS[a.severity] ?? 'gray'} variant="light">{a.severity}</Badge></Table.Td>
                  <Table.Td>{f.policy ?? '—'}</Table.Td>
                  <Table.Td>{f.kind === 'dataset' ? `data set ${f.rule}` : f.rule}</Table.Td>
                  <Table.Td ta="right">{f.matches ?? '—'}</Table.Td>
                  <Table.Td><Text size="xs" ff="monospace">{(f.excerpts ?? []).join(' · ')}</Text></Table.Td>
                  <Table.Td maw={260}><Text size="sm" style={{ wordBreak: 'break-all' }}>{f.file ?? '—'}</Text></Table.Td>
                  <Table.Td>{a.techniques.map((t) => <Badge key={t.id} variant="outline" size="sm">{t.id}</Badge>)}</Table.Td>
                </Table.Tr>
              );
            })}</Table.Tbody>
          </Table>
        )}
      </QueryState>
      {adding && <UploadDialog onClose={() => setAdding(false)} />}
    </Stack>
  );
}
