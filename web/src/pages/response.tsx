// Response: every response action with its live status (polled), and the artefacts it collected with their
// SHA-256 hashes, downloaded with the session's credential and checked in the browser.

import { useMemo, useState } from 'react';
import { Button, Code, Stack, Text, Title } from '@mantine/core';
import { downloadFile, type Download } from '../api/client.ts';
import { useIrActions, type IrAction } from '../api/queries.ts';
import { formatTime } from '../components/format.ts';
import { hostLabel, HostLink, useHostNames, userLabel, useUserNames } from '../components/names.tsx';
import { QueryState } from '../components/query-state.tsx';
import { SortableTable, type Column } from '../components/sortable-table.tsx';

/** The collected artefact: a download that checks the bytes against the SHA-256 the server states. */
function Artefact({ action }: { action: IrAction }) {
  const [done, setDone] = useState<Download | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (!action.artifact_id) return <Text size="sm" c="dimmed">—</Text>;
  const fetchIt = () => downloadFile(`/ir/artifacts/${encodeURIComponent(action.artifact_id!)}`).then(setDone, (e: Error) => setError(e.message));
  return (
    <Stack gap={2} w={240} align="flex-start">
      <Button size="compact-xs" variant="light" onClick={() => { setError(null); void fetchIt(); }}>Download</Button>
      {done && (
        <Text size="xs" style={{ wordBreak: 'break-all' }}>
          {done.name} {done.verified ? '(hash verified)' : '(DOES NOT MATCH the server\'s hash)'} <Code>sha256 {done.sha256}</Code>
        </Text>
      )}
      {error && <Text size="xs" c="red">{error}</Text>}
    </Stack>
  );
}

/** What the action was aimed at: a PID, a path, the paths of a collection. */
function targetOf(a: IrAction): string {
  const p = a.params ?? {};
  if (p.pid !== undefined) return `pid ${String(p.pid)}`;
  if (typeof p.path === 'string') return p.path;
  if (Array.isArray(p.paths)) return p.paths.join(', ');
  return '';
}

const columnsOf = (hosts: Map<string, string>, users: Map<string, string>): Column<IrAction>[] => [
  { key: 'requested', label: 'Requested', render: (a) => formatTime(a.requested_at), sortValue: (a) => a.requested_at ?? '' },
  { key: 'host', label: 'Host', render: (a) => <HostLink id={a.host_id} />, sortValue: (a) => hostLabel(hosts, a.host_id) },
  { key: 'action', label: 'Action', render: (a) => <Text size="sm" style={{ wordBreak: 'break-all' }}>{`${a.action} ${targetOf(a)}`.trim()}</Text>, sortValue: (a) => a.action, wrap: true },
  { key: 'status', label: 'Status', render: (a) => (a.error ? `${a.status}: ${a.error}` : a.status), sortValue: (a) => a.status, wrap: true },
  { key: 'artefact', label: 'Artefact', render: (a) => <Artefact action={a} />, wrap: true },
  { key: 'reason', label: 'Reason', render: (a) => <Text size="sm" miw={180}>{a.reason ?? (typeof a.params?.reason === 'string' ? a.params.reason : '—')}</Text>, wrap: true },
  { key: 'by', label: 'By', render: (a) => userLabel(users, a.requested_by), sortValue: (a) => userLabel(users, a.requested_by) },
];

export function ResponsePage() {
  const actions = useIrActions();
  const hosts = useHostNames();
  const users = useUserNames();
  const columns = useMemo(() => columnsOf(hosts, users), [hosts, users]);
  return (
    <Stack>
      <Title order={2}>Response actions</Title>
      <Text size="sm" c="dimmed">Issue isolate, release, kill and collect from a host's Response tab; kill a process and collect its files from its process page; isolate a host from its incident.</Text>
      <QueryState query={actions} what="Response actions" isEmpty={(d) => d.actions.length === 0}>
        {(d) => <SortableTable label="Response actions" rows={d.actions} columns={columns} rowKey={(a) => a.id} initialSort={{ key: 'requested', desc: true }} />}
      </QueryState>
    </Stack>
  );
}
