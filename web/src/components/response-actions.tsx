// Issuing response actions on a host (isolate, release, kill a process, collect a file), each behind a
// confirmation that says exactly what will happen.

import { useState } from 'react';
import { Alert, Button, Group, Modal, Stack, Text, TextInput } from '@mantine/core';
import { useApiAction } from '../api/queries.ts';
import type { Host } from '../api/types.ts';
import { ErrorState } from './query-state.tsx';

interface ActionSpec { path: string; label: string; explain: string; input?: { name: string; label: string } }

const ACTIONS: ActionSpec[] = [
  { path: 'isolate', label: 'Isolate', explain: 'cuts the host off the network except for its connection to Vigil.' },
  { path: 'release', label: 'Release', explain: 'ends the isolation and restores the network.' },
  { path: 'kill-process', label: 'Kill process', explain: 'kills the process with this PID.', input: { name: 'pid', label: 'PID' } },
  { path: 'collect', label: 'Collect file', explain: 'uploads this file from the host as an artefact.', input: { name: 'path', label: 'Path on the host' } },
];

export function ResponseActions({ host }: { host: Host }) {
  const [pending, setPending] = useState<ActionSpec | null>(null);
  const [value, setValue] = useState('');
  const issue = useApiAction((a: ActionSpec) => ({
    path: `/hosts/${encodeURIComponent(host.id)}/${a.path}`,
    body: a.input ? { [a.input.name]: a.input.name === 'pid' ? Number(value) : value } : {},
  }), ['ir-actions']);
  const close = () => { setPending(null); setValue(''); };
  return (
    <Stack>
      <Group>{ACTIONS.map((a) => <Button key={a.path} variant="light" color={a.path === 'release' ? 'green' : 'red'} onClick={() => { issue.reset(); setPending(a); }}>{a.label}</Button>)}</Group>
      {issue.isSuccess && <Alert color="green">Action requested; follow its status on the Response page.</Alert>}
      {issue.isError && <ErrorState error={issue.error} what="Response action" />}
      <Modal opened={pending !== null} onClose={close} title={pending ? `${pending.label} on ${host.hostname}?` : ''}>
        {pending && (
          <Stack>
            <Text size="sm">This {pending.explain}</Text>
            {pending.input && <TextInput label={pending.input.label} value={value} onChange={(e) => setValue(e.currentTarget.value)} data-autofocus required />}
            <Group justify="flex-end">
              <Button variant="default" onClick={close}>Cancel</Button>
              <Button color="red" disabled={!!pending.input && !value} loading={issue.isPending}
                onClick={() => issue.mutate(pending, { onSettled: close })}>{pending.label}</Button>
            </Group>
          </Stack>
        )}
      </Modal>
    </Stack>
  );
}
