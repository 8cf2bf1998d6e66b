// Triage of one alert in place: acknowledge, assign (to a user of the tenant), close with a disposition and a
// reason, create an exception (which replaced suppression), comment. Each posts to /alerts/{id}/… and
// refreshes the alert lists.

import { useState } from 'react';
import { Autocomplete, Button, Group, Modal, Radio, Stack, Textarea } from '@mantine/core';
import { useApiAction } from '../api/queries.ts';
import type { Alert } from '../api/types.ts';
import { getCredential } from '../auth/credential.ts';
import { ExceptionDialog } from './exception-dialog.tsx';
import { useUserNames } from './names.tsx';
import { ErrorState } from './query-state.tsx';

export const DISPOSITIONS = [
  { value: 'true_positive', label: 'True positive', explain: 'a real attack or policy violation' },
  { value: 'benign', label: 'Benign', explain: 'real activity, expected here' },
  { value: 'false_positive', label: 'False positive', explain: 'the rule matched something it should not have' },
] as const;

export function DispositionPicker({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  return (
    <Radio.Group label="Disposition" required value={value} onChange={onChange}>
      <Stack gap={6} mt={4}>
        {DISPOSITIONS.map((d) => <Radio key={d.value} value={d.value} label={d.label} description={d.explain} />)}
      </Stack>
    </Radio.Group>
  );
}

/** E-mails of the tenant's users (when the caller may list them) and the caller's own, for assigning. */
export function useAssignees(): string[] {
  const names = useUserNames();
  const cred = getCredential();
  const own = cred?.kind === 'session' && cred.user.email ? [cred.user.email] : [];
  return [...new Set([...own, ...[...names.values()].filter((v) => v.includes('@'))])].sort();
}

type Dialog = 'assign' | 'close' | 'comment' | 'exception' | null;

export function AlertTriage({ alert, compact = false }: { alert: Alert; compact?: boolean }) {
  const [dialog, setDialog] = useState<Dialog>(null);
  const [text, setText] = useState('');
  const [assignee, setAssignee] = useState('');
  const [disposition, setDisposition] = useState('');
  const assignees = useAssignees();
  const act = useApiAction((a: { verb: string; body?: unknown }) => ({ path: `/alerts/${encodeURIComponent(alert.id)}/${a.verb}`, body: a.body }), ['alerts', 'stats', 'incidents']);
  const open = (d: Dialog) => { act.reset(); setText(''); setAssignee(alert.assignee ?? ''); setDisposition(''); setDialog(d); };
  const submit = () => {
    const bodies = { assign: { assignee: assignee.trim() }, close: { disposition, reason: text }, comment: { text } };
    act.mutate({ verb: dialog!, body: bodies[dialog as 'assign' | 'close' | 'comment'] }, { onSuccess: () => setDialog(null) });
  };
  const done = alert.status === 'closed';
  const ready = dialog === 'assign' ? !!assignee.trim() : dialog === 'close' ? !!disposition && !!text.trim() : !!text.trim();
  if (compact) {
    return (
      <Button size="compact-xs" variant="light" disabled={alert.status !== 'open'} loading={act.isPending}
        onClick={() => act.mutate({ verb: 'acknowledge' })}>Acknowledge</Button>
    );
  }
  return (
    <Stack gap="xs">
      <Group gap="xs">
        <Button size="xs" disabled={alert.status !== 'open'} loading={act.isPending && dialog === null} onClick={() => act.mutate({ verb: 'acknowledge' })}>Acknowledge</Button>
        <Button size="xs" variant="light" disabled={done} onClick={() => open('assign')}>Assign</Button>
        <Button size="xs" variant="light" color="gray" disabled={done} onClick={() => open('close')}>Close</Button>
        <Button size="xs" variant="light" color="violet" onClick={() => open('exception')}>Create exception</Button>
        <Button size="xs" variant="subtle" onClick={() => open('comment')}>Comment</Button>
      </Group>
      {act.isError && dialog === null && <ErrorState error={act.error} what="Triage" />}
      <ExceptionDialog alert={alert} opened={dialog === 'exception'} onClose={() => setDialog(null)} />
      <Modal opened={dialog !== null && dialog !== 'exception'} onClose={() => setDialog(null)} title={dialog === 'close' ? 'Close alert' : dialog === 'assign' ? 'Assign alert' : 'Comment'}>
        <Stack>
          {dialog === 'assign' && <Autocomplete label="Assignee" description="A user of this tenant (e-mail)" data={assignees} value={assignee} onChange={setAssignee} data-autofocus required />}
          {dialog === 'close' && <DispositionPicker value={disposition} onChange={setDisposition} />}
          {dialog !== 'assign' && <Textarea label={dialog === 'comment' ? 'Comment' : 'Reason'} value={text} onChange={(e) => setText(e.currentTarget.value)} required autosize minRows={2} />}
          {act.isError && <ErrorState error={act.error} what="Triage" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setDialog(null)}>Cancel</Button>
            <Button disabled={!ready} loading={act.isPending} onClick={submit}>{dialog === 'close' ? 'Close alert' : 'Save'}</Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}
