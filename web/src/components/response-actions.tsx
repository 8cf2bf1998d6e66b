// Issuing response actions on a host (isolate, release, kill a process, collect a file), each behind a
// confirmation that says exactly what will happen.

import { useState } from 'react';
import { Alert, Button, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useApiAction } from '../api/queries.ts';
import type { Host } from '../api/types.ts';
import { ErrorState } from './query-state.tsx';

interface InputSpec { name: string; label: string; numeric?: boolean; description?: string }
interface ActionSpec { path: string; label: string; explain: string; inputs: InputSpec[] }

const ACTIONS: ActionSpec[] = [
  { path: 'isolate', label: 'Isolate', explain: 'cuts the host off the network except for its connection to Vigil.', inputs: [{ name: 'reason', label: 'Reason (audited)' }] },
  { path: 'release', label: 'Release', explain: 'ends the isolation and restores the network.', inputs: [{ name: 'reason', label: 'Reason (audited)' }] },
  { path: 'kill-process', label: 'Kill process', explain: 'kills this process (the PID and its entity id must match, so a reused PID is never killed).', inputs: [
    { name: 'pid', label: 'PID', numeric: true },
    { name: 'entity_id', label: 'Process entity id', description: 'shown in the process tree\'s details' }] },
  { path: 'get-file', label: 'Collect file', explain: 'uploads this file from the host as an artefact, with its SHA-256.', inputs: [{ name: 'path', label: 'Path on the host' }] },
];

/** The request body: every filled input, numbers as numbers. */
function bodyOf(a: ActionSpec, values: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const i of a.inputs) if (values[i.name]) body[i.name] = i.numeric ? Number(values[i.name]) : values[i.name];
  return body;
}

export function ResponseActions({ host }: { host: Host }) {
  const [pending, setPending] = useState<ActionSpec | null>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  const issue = useApiAction((a: ActionSpec) => ({
    path: `/hosts/${encodeURIComponent(host.id)}/${a.path}`,
    body: bodyOf(a, values),
  }), ['ir-actions']);
  const close = () => { setPending(null); setValues({}); };
  const required = (a: ActionSpec) => a.inputs.filter((i) => i.name !== 'reason');
  return (
    <Stack>
      <Group>{ACTIONS.map((a) => <Button key={a.path} variant="light" color={a.path === 'release' ? 'green' : 'red'} onClick={() => { issue.reset(); setPending(a); }}>{a.label}</Button>)}</Group>
      {issue.isSuccess && <Alert color="green">Action requested; follow its status on the Response page.</Alert>}
      {issue.isError && <ErrorState error={issue.error} what="Response action" />}
      <Modal opened={pending !== null} onClose={close} title={pending ? `${pending.label} on ${host.hostname}?` : ''}>
        {pending && (
          <Stack>
            <Text size="sm">This {pending.explain}</Text>
            {pending.inputs.map((i, n) => (
              <TextInput key={i.name} label={i.label} description={i.description} value={values[i.name] ?? ''} data-autofocus={n === 0 || undefined}
                required={i.name !== 'reason'} onChange={(e) => { const v = e.currentTarget.value; setValues((old) => ({ ...old, [i.name]: v })); }} />
            ))}
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>Cancel</Button>
              <Button color="red" disabled={required(pending).some((i) => !values[i.name])} loading={issue.isPending}
                onClick={() => issue.mutate(pending, { onSettled: close })}>{pending.label}</Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </Stack>
  );
}
