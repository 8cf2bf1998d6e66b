// Writing or uploading a Sigma rule: YAML editor (or a .yml file), a dry run over the last N hours of events
// within a time budget (the answer says how much of the range it read: never "0 matches in 24 h" when it read
// less), then save; the server's compile errors are listed inline with their line numbers.

import { useState } from 'react';
import { Alert, Button, FileButton, Group, List, NumberInput, Stack, Table, Text, Textarea } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ApiError, api } from '../api/client.ts';
import type { Rule, RuleTestResult } from '../api/types.ts';
import { formatTime } from './format.ts';
import { ErrorState } from './query-state.tsx';

function CompileErrors({ error }: { error: unknown }) {
  if (!(error instanceof ApiError) || error.status !== 400) return <ErrorState error={error} what="Rule" />;
  const errors = error.problem.errors ?? [{ id: null, line: null, message: error.message }];
  return (
    <Alert color="red" title="The rule does not compile" data-testid="rule-errors">
      <List size="sm">{errors.map((e, i) => <List.Item key={i}>{e.line ? `line ${e.line}: ` : ''}{e.message}</List.Item>)}</List>
    </Alert>
  );
}

const hoursOf = (ms: number) => { const h = ms / 3_600_000; return h >= 1 ? `${Number(h.toFixed(h < 10 ? 1 : 0))} h` : `${Math.max(1, Math.round(ms / 60_000))} min`; };

/** What a dry run read and found: the server's summary, and plainly whether it covered the whole range. */
function TestResult({ r }: { r: RuleTestResult }) {
  const s = r.scan;
  if (!s) return <Text size="sm" data-testid="rule-test-result">{r.matches} matches (this server does not say which range it read).</Text>;
  const span = new Date(s.to).getTime() - new Date(s.from).getTime();
  const read = new Date(s.to).getTime() - new Date(s.covered_from).getTime();
  const nothingToRead = s.event_types !== null && s.event_types.length === 0;
  const title = nothingToRead ? 'Nothing read: Vigil collects none of the events this rule\'s log source needs'
    : s.complete ? `${r.matches.toLocaleString()} match${r.matches === 1 ? '' : 'es'} over the whole ${hoursOf(span)} range`
    : s.stopped_at_budget ? `Stopped at the ${s.budget_seconds} s budget: only the last ${hoursOf(read)} of ${hoursOf(span)} were read`
    : `Incomplete: only the last ${hoursOf(read)} of ${hoursOf(span)} were read`;
  return (
    <Alert color={nothingToRead || !s.complete ? 'yellow' : r.matches ? 'blue' : 'green'} title={title} data-testid="rule-test-result"
      data-complete={String(s.complete)} data-stopped-at-budget={String(s.stopped_at_budget)}>
      <Stack gap={6}>
        <Text size="sm" data-testid="rule-test-summary">{s.summary}</Text>
        {!s.complete && <Text size="sm" fw={600}>Events before {formatTime(s.covered_from)} were not searched: a match there would not be counted. Raise the budget or shorten the range.</Text>}
        <Table fz="xs" withRowBorders={false} w="fit-content"><Table.Tbody>
          <Table.Tr><Table.Td c="dimmed">Range asked</Table.Td><Table.Td>{formatTime(s.from)} – {formatTime(s.to)}</Table.Td></Table.Tr>
          <Table.Tr><Table.Td c="dimmed">Range read</Table.Td><Table.Td>{formatTime(s.covered_from)} – {formatTime(s.to)}{s.complete ? ' (all of it)' : ''}</Table.Td></Table.Tr>
          <Table.Tr><Table.Td c="dimmed">Events read</Table.Td><Table.Td>{s.events_scanned.toLocaleString()} in {s.pages} page{s.pages === 1 ? '' : 's'}, {s.elapsed_ms.toLocaleString()} ms{s.event_types ? ` (types: ${s.event_types.join(', ') || 'none'})` : ''}</Table.Td></Table.Tr>
          {r.alerts_truncated && <Table.Tr><Table.Td c="dimmed">Alerts</Table.Td><Table.Td>the first {r.alerts?.length ?? 0} of {r.matches} are in the answer</Table.Td></Table.Tr>}
        </Table.Tbody></Table>
      </Stack>
    </Alert>
  );
}

export function RuleEditor({ onSaved }: { onSaved: () => void }) {
  const [yaml, setYaml] = useState('');
  const [hours, setHours] = useState<number | string>(24);
  const [budget, setBudget] = useState<number | string>(10);
  const client = useQueryClient();
  const test = useMutation({ mutationFn: () => api<RuleTestResult>('/rules/test', { method: 'POST', body: { yaml, hours: Number(hours) || 24, budget_seconds: Number(budget) || 10 } }) });
  const save = useMutation({
    mutationFn: () => api<{ rule: Rule }>('/rules', { method: 'POST', body: { yaml } }),
    onSuccess: () => { void client.invalidateQueries({ queryKey: ['rules'] }); onSaved(); },
  });
  const load = (f: File | null) => { if (f) void f.text().then(setYaml); };
  return (
    <Stack>
      <Textarea label="Sigma rule (YAML)" aria-label="Sigma rule YAML" value={yaml} onChange={(e) => setYaml(e.currentTarget.value)}
        autosize minRows={12} maxRows={24} styles={{ input: { fontFamily: 'monospace' } }} />
      <Group align="flex-end">
        <FileButton onChange={load} accept=".yml,.yaml,text/yaml">{(props) => <Button variant="default" {...props}>Load file…</Button>}</FileButton>
        <NumberInput label="Test over the last" aria-label="Hours to test against" w={150} min={1} max={720} value={hours} onChange={setHours} suffix=" hours" />
        <NumberInput label="Time budget" aria-label="Test budget in seconds" w={130} min={1} max={60} value={budget} onChange={setBudget} suffix=" s" />
        <Button variant="light" disabled={!yaml.trim()} loading={test.isPending} onClick={() => test.mutate()}>Test</Button>
        <Button disabled={!yaml.trim()} loading={save.isPending} onClick={() => save.mutate()}>Save rule</Button>
      </Group>
      {test.isSuccess && <TestResult r={test.data} />}
      {test.isError && <CompileErrors error={test.error} />}
      {save.isError && <CompileErrors error={save.error} />}
    </Stack>
  );
}
