// Hunt: a SQL editor over the event store with the table's schema at hand, a results table, export as CSV
// or JSON, and saved queries (kept in this browser). Ctrl+Enter runs the query.

import { useEffect, useRef, useState } from 'react';
import { useSearchParams } from 'react-router';
import { Alert, Badge, Button, Card, Group, NumberInput, ScrollArea, Select, SimpleGrid, Stack, Table, Text, TextInput, Textarea, Title } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { EXTRACTED_COLUMNS } from '../../../src/schema/columns.ts';
import { ApiError } from '../api/client.ts';
import { runHunt } from '../api/queries.ts';
import type { HuntResult } from '../api/types.ts';
import { ErrorState } from '../components/query-state.tsx';
import { download, toCsv } from '../components/export.ts';

const BASE_COLUMNS = [
  ['host_id', 'String'], ['timestamp', "DateTime64(3, 'UTC')"], ['event_id', 'String'], ['event_type', 'LowCardinality(String)'],
  ['ingested', "DateTime64(3, 'UTC')"], ['raw', 'String (the full event as JSON)'],
];
const SCHEMA = [...BASE_COLUMNS, ...EXTRACTED_COLUMNS.map((c) => [c.name, c.type])];
const EXAMPLE = "SELECT timestamp, hostname, process_command_line\nFROM telemetry_events\nWHERE event_type = 'process_start'\nORDER BY timestamp DESC\nLIMIT 100";
const SAVED_KEY = 'vigil.saved-hunts';

type Saved = Record<string, string>;
const readSaved = (): Saved => { try { return JSON.parse(localStorage.getItem(SAVED_KEY) ?? '{}') as Saved; } catch { return {}; } };

function Schema({ onPick }: { onPick: (column: string) => void }) {
  return (
    <Card withBorder p="xs">
      <Text fw={600} size="sm">telemetry_events</Text>
      <ScrollArea h={300}>
        {SCHEMA.map(([name, type]) => (
          <Group key={name} gap={4} wrap="nowrap">
            <Button variant="subtle" size="compact-xs" ff="monospace" onClick={() => onPick(name)}>{name}</Button>
            <Text size="xs" c="dimmed" truncate>{type}</Text>
          </Group>
        ))}
      </ScrollArea>
    </Card>
  );
}

function Results({ r }: { r: HuntResult }) {
  return (
    <Stack gap="xs">
      <Group>
        <Text size="sm">{r.rows.length.toLocaleString()} row{r.rows.length === 1 ? '' : 's'} in {r.elapsed_ms} ms</Text>
        {r.truncated && <Badge color="orange">truncated</Badge>}
        <Button size="xs" variant="default" onClick={() => download('hunt.csv', 'text/csv', toCsv(r.columns, r.rows))}>Export CSV</Button>
        <Button size="xs" variant="default" onClick={() => download('hunt.json', 'application/json',
          JSON.stringify(r.rows.map((row) => Object.fromEntries(r.columns.map((c, i) => [c, row[i]]))), null, 2))}>Export JSON</Button>
      </Group>
      <ScrollArea h={420}>
        <Table fz="xs" striped stickyHeader aria-label="Hunt results">
          <Table.Thead><Table.Tr>{r.columns.map((c) => <Table.Th key={c}>{c}</Table.Th>)}</Table.Tr></Table.Thead>
          <Table.Tbody>{r.rows.map((row, i) => (
            <Table.Tr key={i}>{row.map((v, j) => <Table.Td key={j} ff="monospace">{typeof v === 'object' ? JSON.stringify(v) : String(v)}</Table.Td>)}</Table.Tr>
          ))}</Table.Tbody>
        </Table>
      </ScrollArea>
    </Stack>
  );
}

export function HuntPage() {
  // A pivot opens the hunt prefilled (?sql=…) and, with ?run=1, runs it once.
  const [params] = useSearchParams();
  const [sql, setSql] = useState(() => params.get('sql') ?? EXAMPLE);
  const [limit, setLimit] = useState<number | string>(1000);
  const [saved, setSaved] = useState(readSaved);
  const [name, setName] = useState('');
  const hunt = useMutation({ mutationFn: (text?: string) => runHunt(text ?? sql, Number(limit)) });
  const fromUrl = params.get('sql');
  const ran = useRef<string | null>(null);
  useEffect(() => {
    if (!fromUrl || ran.current === fromUrl) return;
    ran.current = fromUrl;
    setSql(fromUrl);
    if (params.get('run') === '1') hunt.mutate(fromUrl);
  }, [fromUrl, params, hunt]);
  const store = (next: Saved) => { localStorage.setItem(SAVED_KEY, JSON.stringify(next)); setSaved(next); };
  return (
    <Stack>
      <Title order={2}>Hunt</Title>
      <SimpleGrid cols={{ base: 1, md: 2 }} style={{ gridTemplateColumns: 'minmax(0, 3fr) minmax(0, 1fr)' }}>
        <Stack gap="xs">
          <Textarea aria-label="SQL" value={sql} onChange={(e) => setSql(e.currentTarget.value)} autosize minRows={8} maxRows={20}
            styles={{ input: { fontFamily: 'monospace' } }} onKeyDown={(e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) hunt.mutate(undefined); }} />
          <Group>
            <Button loading={hunt.isPending} onClick={() => hunt.mutate(undefined)}>Run (Ctrl+Enter)</Button>
            <NumberInput aria-label="Row limit" w={120} min={1} max={100000} value={limit} onChange={setLimit} />
            <Select placeholder="Saved queries" aria-label="Saved queries" data={Object.keys(saved)} value={null} onChange={(k) => { if (k) setSql(saved[k]); }} w={200} />
            <TextInput placeholder="Name" aria-label="Query name" w={150} value={name} onChange={(e) => setName(e.currentTarget.value)} />
            <Button variant="default" disabled={!name.trim()} onClick={() => { store({ ...saved, [name.trim()]: sql }); setName(''); }}>Save</Button>
            {name.trim() in saved && <Button variant="subtle" color="red" onClick={() => { const { [name.trim()]: _gone, ...rest } = saved; store(rest); }}>Delete</Button>}
          </Group>
        </Stack>
        <Schema onPick={(c) => setSql((s) => `${s}${/\s$/.test(s) ? '' : ' '}${c}`)} />
      </SimpleGrid>
      {hunt.isError && (hunt.error instanceof ApiError && hunt.error.status === 400
        ? <Alert color="red" title="The query was refused">{hunt.error.message}</Alert>
        : <ErrorState error={hunt.error} what="Hunt" />)}
      {hunt.isSuccess && <Results r={hunt.data} />}
    </Stack>
  );
}
