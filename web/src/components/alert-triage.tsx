// Triage of one alert in place: acknowledge, assign, close with a reason, suppress with a reason and an
// expiry, comment. Each posts to /alerts/{id}/… and refreshes the alert lists.

import { useState } from 'react';
import { Button, Group, Modal, Stack, TextInput, Textarea } from '@mantine/core';
import { useApiAction } from '../api/queries.ts';
import type { Alert } from '../api/types.ts';
import { localInputValue } from './format.ts';
import { ErrorState } from './query-state.tsx';

type Dialog = 'assign' | 'close' | 'suppress' | 'comment' | null;

export function AlertTriage({ alert }: { alert: Alert }) {
  const [dialog, setDialog] = useState<Dialog>(null);
  const [text, setText] = useState('');
  const [until, setUntil] = useState(() => localInputValue(new Date(Date.now() + 86_400_000)));
  const act = useApiAction((a: { verb: string; body?: unknown }) => ({ path: `/alerts/${encodeURIComponent(alert.id)}/${a.verb}`, body: a.body }), ['alerts', 'stats']);
  const open = (d: Dialog) => { act.reset(); setText(''); setDialog(d); };
  const submit = () => {
    const bodies = {
      assign: { assignee: text }, close: { reason: text }, comment: { text },
      suppress: { reason: text, until: new Date(until).toISOString() },
    };
    act.mutate({ verb: dialog!, body: bodies[dialog!] }, { onSuccess: () => setDialog(null) });
  };
  const done = alert.status === 'closed';
  return (
    <Stack gap="xs">
      <Group gap="xs" wrap="nowrap">
        <Button size="xs" disabled={alert.status !== 'open'} loading={act.isPending && dialog === null} onClick={() => act.mutate({ verb: 'acknowledge' })}>Acknowledge</Button>
        <Button size="xs" variant="light" disabled={done} onClick={() => open('assign')}>Assign</Button>
        <Button size="xs" variant="light" color="gray" disabled={done} onClick={() => open('close')}>Close</Button>
        <Button size="xs" variant="light" color="violet" disabled={done} onClick={() => open('suppress')}>Suppress</Button>
        <Button size="xs" variant="subtle" onClick={() => open('comment')}>Comment</Button>
      </Group>
      {act.isError && dialog === null && <ErrorState error={act.error} what="Triage" />}
      <Modal opened={dialog !== null} onClose={() => setDialog(null)} title={`${dialog ?? ''} alert`}>
        <Stack>
          {dialog === 'assign' ? <TextInput label="Assignee" value={text} onChange={(e) => setText(e.currentTarget.value)} data-autofocus required />
            : <Textarea label={dialog === 'comment' ? 'Comment' : 'Reason'} value={text} onChange={(e) => setText(e.currentTarget.value)} data-autofocus required autosize minRows={2} />}
          {dialog === 'suppress' && <TextInput type="datetime-local" label="Suppressed until" value={until} onChange={(e) => setUntil(e.currentTarget.value)} required />}
          {act.isError && <ErrorState error={act.error} what="Triage" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setDialog(null)}>Cancel</Button>
            <Button disabled={!text.trim()} loading={act.isPending} onClick={submit}>Save</Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
