// Writing or uploading a Sigma rule: YAML editor (or a .yml file), test against the last N hours of events,
// then save; the server's compile errors are listed inline with their line numbers.

import { useState } from 'react';
import { Alert, Button, FileButton, Group, List, NumberInput, Stack, Text, Textarea } from '@mantine/core';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { ApiError, api } from '../api/client.ts';
import type { Rule, VigilEvent } from '../api/types.ts';
import { ErrorState } from './query-state.tsx';

function CompileErrors({ error }: { error: unknown }) {
  if (!(error instanceof ApiError) || error.status !== 400) return <ErrorState error={error} what="Rule" />;
  const errors = error.problem.errors ?? [{ message: error.message }];
  return (
    <Alert color="red" title="The rule does not compile" data-testid="rule-errors">
      <List size="sm">{errors.map((e, i) => <List.Item key={i}>{e.line ? `line ${e.line}: ` : ''}{e.message}</List.Item>)}</List>
    </Alert>
  );
}

export function RuleEditor({ onSaved }: { onSaved: () => void }) {
  const [yaml, setYaml] = useState('');
  const [hours, setHours] = useState<number | string>(24);
  const client = useQueryClient();
  const test = useMutation({ mutationFn: () => api<{ matches: number; events: VigilEvent[] }>('/rules/test', { method: 'POST', body: { yaml, hours: Number(hours) } }) });
  const save = useMutation({
    mutationFn: () => api<{ rule: Rule }>('/rules', { method: 'POST', body: { yaml } }),
    onSuccess: () => { void client.invalidateQueries({ queryKey: ['rules'] }); onSaved(); },
  });
  const load = (f: File | null) => { if (f) void f.text().then(setYaml); };
  return (
    <Stack>
      <Textarea label="Sigma rule (YAML)" aria-label="Sigma rule YAML" value={yaml} onChange={(e) => setYaml(e.currentTarget.value)}
        autosize minRows={12} maxRows={24} styles={{ input: { fontFamily: 'monospace' } }} />
      <Group>
        <FileButton onChange={load} accept=".yml,.yaml,text/yaml">{(props) => <Button variant="default" {...props}>Load file…</Button>}</FileButton>
        <NumberInput aria-label="Hours to test against" w={110} min={1} max={720} value={hours} onChange={setHours} suffix=" h" />
        <Button variant="light" disabled={!yaml.trim()} loading={test.isPending} onClick={() => test.mutate()}>Test</Button>
        <Button disabled={!yaml.trim()} loading={save.isPending} onClick={() => save.mutate()}>Save rule</Button>
      </Group>
      {test.isSuccess && <Text size="sm" data-testid="rule-test-result">{test.data.matches} matching events in the last {hours} hours.</Text>}
      {test.isError && <CompileErrors error={test.error} />}
      {save.isError && <CompileErrors error={save.error} />}
    </Stack>
  );
}
