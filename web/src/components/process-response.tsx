// Response from where the analyst stands: kill this process (its PID and entity id are filled in, so a reused
// PID is never killed and nobody types an id) or collect a file shown on the page; each asks for a reason and
// says exactly what will happen before it is sent (POST /hosts/{id}/kill-process | get-file).

import { useState } from 'react';
import { Alert, Anchor, Button, Code, Group, Modal, Stack, Text, Textarea } from '@mantine/core';
import { Link } from 'react-router';
import { useApiAction } from '../api/queries.ts';
import { ErrorState } from './query-state.tsx';

export type ResponseRequest =
  | { action: 'kill-process'; pid: number; entity_id: string; executable: string }
  | { action: 'get-file'; path: string }
  | { action: 'isolate' };

function explain(r: ResponseRequest, hostname: string): { title: string; text: string; button: string } {
  switch (r.action) {
    case 'kill-process': return {
      title: `Kill process ${r.pid} on ${hostname}?`, button: 'Kill process',
      text: `The agent kills pid ${r.pid} (${r.executable}) with SIGKILL only if that pid is still this process (entity ${r.entity_id}); a reused pid is left alone.`,
    };
    case 'get-file': return {
      title: `Collect a file from ${hostname}?`, button: 'Collect file',
      text: `The agent uploads ${r.path} (up to 100 MiB) as an artefact with its SHA-256; download it on the Response page.`,
    };
    case 'isolate': return {
      title: `Isolate ${hostname}?`, button: 'Isolate host',
      text: `The host is cut off the network except for its connection to Vigil, until someone releases it.`,
    };
  }
}

/** A button that opens the confirmation of one response action. */
export function ResponseButton({ hostId, hostname, request, label, size = 'xs' }:
  { hostId: string; hostname: string; request: ResponseRequest; label?: string; size?: string }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState('');
  const issue = useApiAction((body: Record<string, unknown>) => ({ path: `/hosts/${encodeURIComponent(hostId)}/${request.action}`, body }), ['ir-actions']);
  const e = explain(request, hostname);
  const body = (): Record<string, unknown> => {
    const r = reason.trim();
    if (request.action === 'kill-process') return { pid: request.pid, entity_id: request.entity_id, reason: r };
    if (request.action === 'get-file') return { path: request.path, reason: r };
    return { reason: r };
  };
  return (
    <>
      <Button size={size} variant="light" color="red" onClick={() => { issue.reset(); setReason(''); setOpen(true); }}>{label ?? e.button}</Button>
      <Modal opened={open} onClose={() => setOpen(false)} title={e.title}>
        <Stack>
          <Text size="sm">{e.text}</Text>
          {request.action === 'get-file' && <Code block style={{ wordBreak: 'break-all' }}>{request.path}</Code>}
          {issue.isSuccess
            ? <Alert color="green" data-testid="response-requested">Requested. Follow its status on the <Anchor component={Link} to="/response">Response page</Anchor>.</Alert>
            : <Textarea label="Reason" description="Kept with the action (Response page) and recorded with your name in the audit ledger" required autosize minRows={2} data-autofocus
                value={reason} onChange={(ev) => setReason(ev.currentTarget.value)} />}
          {issue.isError && <ErrorState error={issue.error} what="Response action" />}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setOpen(false)}>{issue.isSuccess ? 'Close' : 'Cancel'}</Button>
            {!issue.isSuccess && <Button color="red" disabled={!reason.trim()} loading={issue.isPending} onClick={() => issue.mutate(body())}>{e.button}</Button>}
          </Group>
        </Stack>
      </Modal>
    </>
  );
}
